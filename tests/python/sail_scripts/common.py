"""The helpers a sail user's scenario scripts share: a ResNet-style classifier written the way
sail's samples write theirs (Engine, Bmcv preprocessing, Tensor), and the frame identity the
test media carry in their pixels.

Every test frame is one solid colour: stream ``k``, frame ``i`` is
B = 16 + 28 * (i % 8), G = 16 + 28 * (i // 8), R = 20 + 30 * k (the tests make the media with
ffmpeg's geq filter), so a script reads back which frame it holds from any pixel, within a
codec's tolerance.
"""
import os
import sys

import numpy as np

from framebus.compat import sail

TOLERANCE = 10  # a YUV round trip of a solid colour moves it by a few levels; steps are >= 28


def colour(stream, index):
    """(B, G, R) of frame ``index`` of stream ``stream``."""
    return 16 + 28 * (index % 8), 16 + 28 * (index // 8), 20 + 30 * stream


def identify(bgr):
    """(stream, index) of a BGR frame (an (H, W, 3) array), or None if its pixels are not one of
    the test colours within TOLERANCE (every pixel is checked against the centre one)."""
    centre = bgr[bgr.shape[0] // 2, bgr.shape[1] // 2].astype(int)
    b, g, r = centre
    low, high = int(round((b - 16) / 28)), int(round((g - 16) / 28))
    stream = int(round((r - 20) / 30))
    index = low + 8 * high
    if not (0 <= low < 8 and 0 <= high and 0 <= stream):
        return None
    expected = np.array(colour(stream, index))
    if np.abs(bgr.reshape(-1, 3).astype(int) - expected).max() > TOLERANCE:
        return None
    return stream, index


class ResNet:
    """A classifier as sail's samples write one: Engine, Bmcv resize / convert_to /
    bm_image_to_tensor into a preallocated input Tensor, process, output Tensor to NumPy."""

    def __init__(self, model_path, dev_id=0):
        self.handle = sail.Handle(dev_id)
        self.bmcv = sail.Bmcv(self.handle)
        self.net = sail.Engine(model_path, dev_id, sail.IOMode.SYSIO)
        self.graph_name = self.net.get_graph_names()[0]
        self.input_name = self.net.get_input_names(self.graph_name)[0]
        self.output_name = self.net.get_output_names(self.graph_name)[0]
        self.input_shape = self.net.get_input_shape(self.graph_name, self.input_name)
        self.output_shape = self.net.get_output_shape(self.graph_name, self.output_name)
        self.input_dtype = self.net.get_input_dtype(self.graph_name, self.input_name)
        self.output_dtype = self.net.get_output_dtype(self.graph_name, self.output_name)
        self.input_scale = self.net.get_input_scale(self.graph_name, self.input_name)
        self.net_h, self.net_w = self.input_shape[2], self.input_shape[3]
        self.img_dtype = sail.ImgDtype.DATA_TYPE_EXT_FLOAT32
        self.input_tensor = sail.Tensor(self.handle, self.input_shape, self.input_dtype, False, False)
        self.output_tensor = sail.Tensor(self.handle, self.output_shape, self.output_dtype, True, True)
        self.input_tensors = {self.input_name: self.input_tensor}
        self.output_tensors = {self.output_name: self.output_tensor}
        mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
        a = [1 / (255.0 * s) for s in std]
        b = [-m / s for m, s in zip(mean, std)]
        ab = [x * self.input_scale for x in [a[0], b[0], a[1], b[1], a[2], b[2]]]
        self.ab = ((ab[0], ab[1]), (ab[2], ab[3]), (ab[4], ab[5]))

    def preprocess_bmcv(self, input_bmimg):
        if input_bmimg.format() in (sail.Format.FORMAT_YUV420P, sail.Format.FORMAT_NV12):
            input_bmimg = self.bmcv.yuv2bgr(input_bmimg)
        resized = self.bmcv.resize(input_bmimg, self.net_w, self.net_h, sail.bmcv_resize_algorithm.BMCV_INTER_LINEAR)
        rgb = sail.BMImage(self.handle, self.net_h, self.net_w, sail.Format.FORMAT_RGB_PLANAR, resized.dtype())
        self.bmcv.convert_format(resized, rgb)
        output = sail.BMImage(self.handle, self.net_h, self.net_w, sail.Format.FORMAT_RGB_PLANAR, self.img_dtype)
        self.bmcv.convert_to(rgb, output, self.ab)
        return output

    def __call__(self, bmimg):
        """The top class of one image."""
        self.bmcv.bm_image_to_tensor(self.preprocess_bmcv(bmimg), self.input_tensor)
        self.net.process(self.graph_name, self.input_tensors, self.output_tensors)
        scores = self.output_tensor.asnumpy()
        assert scores.shape[-1] == self.output_shape[-1] and np.isfinite(scores).all(), scores
        return int(np.argmax(scores))


# The frame id a sender uses to tell one receiver to stop (sail's IPC has no end of stream):
# sent once per receiver, after the last frame, on the same channel id.
STOP = 1 << 30


def report(channel_id, frame_id, bmimg, top):
    """Prints what a receiver got: "frame <channel_id> <frame_id> <stream> <index> <class>",
    where stream and index are read back from the pixels (-1 -1 if they are no test colour)."""
    seen = identify(bmimg.asmat())
    stream, index = seen if seen is not None else (-1, -1)
    # One write of one line: processes that share stdout never interleave their lines.
    os.write(1, f"frame {channel_id} {frame_id} {stream} {index} {top}\n".encode())


def send_stop(ipc, handle, channel_id, receivers):
    """One STOP frame per receiver, after the last frame."""
    stop = sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    for _ in range(receivers):
        ipc.sendBMImage(stop, channel_id, STOP)


def send_video(ipc, video, channel_id=0, receivers=1):
    """A sender's loop: every frame of ``video`` read with sail.Decoder and sent, then a STOP
    frame per receiver."""
    handle = sail.Handle(0)
    decoder = sail.Decoder(video, True, 0)
    frame_id = 0
    img = sail.BMImage()
    while decoder.read(handle, img) == 0:
        ipc.sendBMImage(img, channel_id, frame_id)
        frame_id += 1
    send_stop(ipc, handle, channel_id, receivers)
    decoder.release()


def receive_until_stop(ipc, net):
    """A receiver's loop: classify and report every frame until a STOP frame."""
    while True:
        bmimg, channel_id, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            return
        report(channel_id, frame_id, bmimg, net(bmimg))


def run_processes(processes):
    """Starts the processes, waits for them all, fails if any failed, then prints "done"."""
    for p in processes:
        p.start()
    join_processes(processes)


def join_processes(processes):
    for p in processes:
        p.join()
    if any(p.exitcode != 0 for p in processes):
        sys.exit(f"a process failed: {[p.exitcode for p in processes]}")
    print("done", flush=True)
