"""Scenario 1: one decode process, ONE sail.IPC pipe, several receiver processes that share its
frames (each frame to one of them), each preprocessing with sail.Bmcv and classifying with
sail.Engine.

argv: model.onnx pipe_path video receivers. Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import STOP, ResNet, report


def decode(pipe_path, video, receivers):
    handle = sail.Handle(0)
    decoder = sail.Decoder(video, True, 0)
    ipc = sail.IPC(True, pipe_path, pipe_path + ".final", False, 8)
    frame_id = 0
    while True:
        img = sail.BMImage()
        if decoder.read(handle, img) != 0:
            break
        ipc.sendBMImage(img, 0, frame_id)
        frame_id += 1
    stop = sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    for _ in range(receivers):
        ipc.sendBMImage(stop, 0, STOP)
    decoder.release()


def receive(model_path, pipe_path):
    net = ResNet(model_path)
    ipc = sail.IPC(False, pipe_path, pipe_path + ".final", True, 10)
    while True:
        bmimg, channel_id, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            break
        report(channel_id, frame_id, bmimg, net(bmimg))


if __name__ == "__main__":
    model_path, pipe_path, video, receivers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    workers = [mp.Process(target=receive, args=(model_path, pipe_path)) for _ in range(receivers)]
    workers.append(mp.Process(target=decode, args=(pipe_path, video, receivers)))
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    if any(p.exitcode != 0 for p in workers):
        sys.exit(f"a process failed: {[p.exitcode for p in workers]}")
    print("done", flush=True)
