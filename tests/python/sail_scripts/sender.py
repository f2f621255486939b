"""A sender written the way sail's IPC samples are, with only the import changed.

argv: pipe_path final_path frames. Sends, for each frame id, a 640x360 BGR BMImage whose pixels
are frame_id % 256 on channel 0 and a (3, 224, 224) float32 Tensor filled with frame_id on
channel 1.
"""
import sys

import numpy as np

from framebus.compat import sail

pipe_path, final_path, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
handle = sail.Handle(0)
ipc = sail.IPC(True, pipe_path, final_path, False, 10)
for frame_id in range(frames):
    pixels = np.full((360, 640, 3), frame_id % 256, dtype=np.uint8)
    img = sail.BMImage(handle, pixels, 360, 640, sail.Format.FORMAT_BGR_PACKED)
    ipc.sendBMImage(img, 0, frame_id)
    tensor = sail.Tensor(handle, np.full((3, 224, 224), frame_id, dtype=np.float32))
    ipc.sendTensor(tensor, 1, frame_id)
print("sent", frames, flush=True)
