"""Pictures from a folder, each opened with sail.Decoder, sent over a sail.IPC pipe to a
receiver process that classifies them.

argv: model.onnx pipe_path folder. Picture j (sorted by name) is frame j of channel 0. Prints
common.report lines, then "done".
"""
import multiprocessing as mp
import os
import sys

from framebus.compat import sail

from common import ResNet, receive_until_stop, run_processes, send_stop


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
    send_stop(ipc, handle, 0, 1)


def receive(model_path, pipe_path):
    net = ResNet(model_path)
    ipc = sail.IPC(False, pipe_path, "/tmp/final", True)
    receive_until_stop(ipc, net)


if __name__ == "__main__":
    model_path, pipe_path, folder = sys.argv[1:4]
    workers = [mp.Process(target=receive, args=(model_path, pipe_path)),
               mp.Process(target=send, args=(pipe_path, folder))]
    run_processes(workers)
