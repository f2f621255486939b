"""Scenario 1: one decode process, ONE sail.IPC pipe, several receiver processes that share its
frames (each frame to one of them), each preprocessing with sail.Bmcv and classifying with
sail.Engine.

argv: model.onnx pipe_path video receivers. Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import ResNet, receive_until_stop, run_processes, send_video


def decode(pipe_path, video, receivers):
    ipc = sail.IPC(True, pipe_path, pipe_path + ".final", False, 8)
    send_video(ipc, video, 0, receivers)


def receive(model_path, pipe_path):
    net = ResNet(model_path)
    ipc = sail.IPC(False, pipe_path, pipe_path + ".final", True, 10)
    receive_until_stop(ipc, net)


if __name__ == "__main__":
    model_path, pipe_path, video, receivers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    workers = [mp.Process(target=receive, args=(model_path, pipe_path)) for _ in range(receivers)]
    workers.append(mp.Process(target=decode, args=(pipe_path, video, receivers)))
    run_processes(workers)
