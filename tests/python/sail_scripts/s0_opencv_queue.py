"""Scenario 0, before framebus: OpenCV reader processes -> one bounded multiprocessing queue ->
one inference process (sail.Bmcv preprocessing, sail.Engine).

argv: model.onnx video... (video k is channel k). Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

import cv2

from common import ResNet, report, run_processes


def reader(channel_id, path, queue):
    cap = cv2.VideoCapture(path)
    frame_id = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        queue.put((channel_id, frame_id, frame))
        frame_id += 1
    cap.release()
    queue.put((channel_id, -1, None))


def inference(model_path, readers, queue):
    net = ResNet(model_path)
    finished = 0
    while finished < readers:
        channel_id, frame_id, frame = queue.get()
        if frame is None:
            finished += 1
            continue
        bmimg = net.bmcv.mat_to_bm_image(frame)
        report(channel_id, frame_id, bmimg, net(bmimg))


if __name__ == "__main__":
    model_path, videos = sys.argv[1], sys.argv[2:]
    queue = mp.Queue(maxsize=8)
    workers = [mp.Process(target=reader, args=(k, path, queue)) for k, path in enumerate(videos)]
    workers.append(mp.Process(target=inference, args=(model_path, len(videos), queue)))
    run_processes(workers)
