"""Scenario 2: per stream, a decoder process, a sail.IPC pipe and a receiver process; the
receivers start first and wait for their sender.

argv: model.onnx pipe_path video... (video k goes through pipe "<pipe_path>.<k>" as channel k).
Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import STOP, ResNet, report


def decode(pipe_path, channel_id, video):
    handle = sail.Handle(0)
    decoder = sail.Decoder(video, True, 0)
    ipc = sail.IPC(True, pipe_path, "/tmp/final", False, 4)
    frame_id = 0
    img = sail.BMImage()
    while decoder.read(handle, img) == 0:
        ipc.sendBMImage(img, channel_id, frame_id)
        frame_id += 1
    ipc.sendBMImage(sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED,
                                 sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE), channel_id, STOP)
    decoder.release()


def receive(model_path, pipe_path, ready):
    net = ResNet(model_path)
    ready.release()
    ipc = sail.IPC(False, pipe_path, "/tmp/final")  # waits for the sender
    while True:
        bmimg, channel_id, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            break
        report(channel_id, frame_id, bmimg, net(bmimg))


if __name__ == "__main__":
    model_path, pipe_path, videos = sys.argv[1], sys.argv[2], sys.argv[3:]
    ready = mp.Semaphore(0)
    receivers = [mp.Process(target=receive, args=(model_path, f"{pipe_path}.{k}", ready)) for k in range(len(videos))]
    for p in receivers:
        p.start()
    for _ in receivers:
        ready.acquire()  # every receiver is up before any sender exists
    decoders = [mp.Process(target=decode, args=(f"{pipe_path}.{k}", k, v)) for k, v in enumerate(videos)]
    for p in decoders:
        p.start()
    for p in decoders + receivers:
        p.join()
    if any(p.exitcode != 0 for p in decoders + receivers):
        sys.exit(f"a process failed: {[p.exitcode for p in decoders + receivers]}")
    print("done", flush=True)
