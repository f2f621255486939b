"""A receiver that takes one frame, draws on it as a user would, says so, then blocks in its
"inference" until it is killed: what a process that dies mid-frame looks like.

argv: pipe_path final_path usec2c(0/1) kind(image/tensor). Prints "got <channel_id> <frame_id>".
"""
import sys

import cv2
import numpy as np

from framebus.compat import sail

pipe_path, final_path, usec2c, kind = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
handle = sail.Handle(0)
bmcv = sail.Bmcv(handle)
ipc = sail.IPC(False, pipe_path, final_path, usec2c)
if kind == "image":
    img, channel_id, frame_id = ipc.receiveBMImage()
    # Draw on the image itself, on the BGR copy asmat() gives, and on its pixel array.
    bmcv.rectangle(img, 2, 2, 20, 10, (0, 0, 255), 3)
    cv2.rectangle(img.asmat(), (0, 0), (30, 20), (255, 255, 255), -1)
    cv2.rectangle(np.asarray(img), (0, 0), (30, 20), (255, 255, 255), -1)
else:
    tensor, channel_id, frame_id = ipc.receiveTensor()
    tensor.asnumpy()[...] = 255
print("got", channel_id, frame_id, flush=True)
sys.stdin.read()  # "inference" that never ends: the test kills this process with SIGKILL
