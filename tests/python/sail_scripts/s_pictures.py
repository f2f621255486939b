"""Pictures from a folder, each opened with sail.Decoder, sent over a sail.IPC pipe to a
receiver process that classifies them.

argv: model.onnx pipe_path folder. Picture j (sorted by name) is frame j of channel 0. Prints
common.report lines, then "done".
"""
import multiprocessing as mp
import os
import sys

from framebus.compat import sail

from common import STOP, ResNet, report


def send(pipe_path, folder):
    handle = sail.Handle(0)
    ipc = sail.IPC(True, pipe_path, "/tmp/final", False, 4)
    names = sorted(n for n in os.listdir(folder) if n.endswith((".png", ".jpg")))
    for frame_id, name in enumerate(names):
        decoder = sail.Decoder(os.path.join(folder, name), True, 0)
        img = sail.BMImage()
        if decoder.read(handle, img) != 0:
            sys.exit(f"cannot decode {name}")
        ipc.sendBMImage(img, 0, frame_id)
        decoder.release()
    ipc.sendBMImage(sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED,
                                 sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE), 0, STOP)


def receive(model_path, pipe_path):
    net = ResNet(model_path)
    ipc = sail.IPC(False, pipe_path, "/tmp/final", True)
    while True:
        bmimg, channel_id, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            break
        report(channel_id, frame_id, bmimg, net(bmimg))


if __name__ == "__main__":
    model_path, pipe_path, folder = sys.argv[1:4]
    workers = [mp.Process(target=receive, args=(model_path, pipe_path)),
               mp.Process(target=send, args=(pipe_path, folder))]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    if any(p.exitcode != 0 for p in workers):
        sys.exit(f"a process failed: {[p.exitcode for p in workers]}")
    print("done", flush=True)
