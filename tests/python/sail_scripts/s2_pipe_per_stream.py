"""Scenario 2: per stream, a decoder process, a sail.IPC pipe and a receiver process; the
receivers start first and wait for their sender.

argv: model.onnx pipe_path video... (video k goes through pipe "<pipe_path>.<k>" as channel k).
Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import ResNet, join_processes, receive_until_stop, send_video


def decode(pipe_path, channel_id, video):
    ipc = sail.IPC(True, pipe_path, "/tmp/final", False, 4)
    send_video(ipc, video, channel_id)


def receive(model_path, pipe_path, ready):
    net = ResNet(model_path)
    ready.release()
    ipc = sail.IPC(False, pipe_path, "/tmp/final")  # waits for the sender
    receive_until_stop(ipc, net)


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
    join_processes(decoders + receivers)
