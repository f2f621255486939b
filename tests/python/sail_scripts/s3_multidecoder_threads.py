"""Scenario 3: a sail.MultiDecoder in one process feeds one sail.IPC pipe; another process
classifies with several inference threads that share one receiving IPC.

argv: model.onnx pipe_path frames threads video... (video k is MultiDecoder channel k; the first
`frames` frames of each are sent, frame ids counting per channel). Prints common.report lines,
then "done".
"""
import multiprocessing as mp
import sys
import threading

from framebus.compat import sail

from common import STOP, ResNet, report, run_processes, send_stop


def decode(pipe_path, frames, threads, videos):
    handle = sail.Handle(0)
    # A queue that holds every frame sent: the reader never makes a channel drop one.
    multi_decoder = sail.MultiDecoder(frames + 4, 0, 0)
    channels = [multi_decoder.add_channel(video) for video in videos]
    ipc = sail.IPC(True, pipe_path, "/tmp/final", False, 16)
    sent = {idx: 0 for idx in channels}
    while min(sent.values()) < frames:
        for idx in channels:
            if sent[idx] == frames:
                continue
            img = sail.BMImage()
            if multi_decoder.read(idx, img, 1) != 0:
                sys.exit(f"channel {idx} gave no frame")
            ipc.sendBMImage(img, idx, sent[idx])
            sent[idx] += 1
    send_stop(ipc, handle, channels[-1], threads)  # after the last frame of the last channel
    multi_decoder.release()


def infer(model_path, pipe_path, threads):
    ipc = sail.IPC(False, pipe_path, "/tmp/final", True, 10)
    lock = threading.Lock()

    def work():
        net = ResNet(model_path)  # one Engine per thread, as sail's threaded samples keep theirs
        while True:
            bmimg, channel_id, frame_id = ipc.receiveBMImage()
            if frame_id == STOP:
                return
            top = net(bmimg)
            with lock:
                report(channel_id, frame_id, bmimg, top)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


if __name__ == "__main__":
    model_path, pipe_path, frames, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    videos = sys.argv[5:]
    workers = [mp.Process(target=infer, args=(model_path, pipe_path, threads)),
               mp.Process(target=decode, args=(pipe_path, frames, threads, videos))]
    run_processes(workers)
