"""sail.IPC objects made in the parent and passed to multiprocessing.Process children, under one
start method: a decoding child sends through the parent's sender IPC, two inference children
receive through the parent's receiver IPC (each frame to one of them).

argv: model.onnx pipe_path start_method video. Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import ResNet, receive_until_stop, run_processes, send_video

RECEIVERS = 2


def decode(ipc, video):
    send_video(ipc, video, 0, RECEIVERS)


def receive(model_path, ipc):
    receive_until_stop(ipc, ResNet(model_path))


if __name__ == "__main__":
    model_path, pipe_path, method, video = sys.argv[1:5]
    ctx = mp.get_context(method)
    sender = sail.IPC(True, pipe_path, "/tmp/final", False, 8)
    receiver = sail.IPC(False, pipe_path, "/tmp/final", True, 4)
    workers = [ctx.Process(target=receive, args=(model_path, receiver)) for _ in range(RECEIVERS)]
    workers.append(ctx.Process(target=decode, args=(sender, video)))
    run_processes(workers)
