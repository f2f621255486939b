"""A sender written the way sail's IPC samples are, with only the import changed."""
import sys

import numpy as np

from framebus.compat import sail

pipe_path, final_path, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
ipc = sail.IPC(True, pipe_path, final_path, False, 10)
for frame_id in range(frames):
    img = np.full((360, 640, 3), frame_id % 256, dtype=np.uint8)
    ipc.sendBMImage(img, 0, frame_id)
    tensor = np.full((3, 224, 224), frame_id, dtype=np.float32)
    ipc.sendTensor(tensor, 1, frame_id)
print("sent", frames, flush=True)
