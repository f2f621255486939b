"""A receiver written the way sail's IPC samples are, with only the import changed.

argv: pipe_path final_path usec2c(0/1). Prints "ready", then one line per frame:
"frame <channel_id> <frame_id> <ok>", and at the end of the pipe "end <reason>".
"""
import sys

import framebus
from framebus.compat import sail

pipe_path, final_path, usec2c = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ipc = sail.IPC(False, pipe_path, final_path, usec2c)
print("ready", flush=True)
try:
    while True:
        tensor, channel_id, frame_id = ipc.receiveTensor()  # images too: their pixels as a tensor
        data = tensor.asnumpy()
        if channel_id == 0:
            ok = data.shape == (360, 640, 3) and int(data[0, 0, 0]) == frame_id % 256
        else:
            ok = data.shape == (3, 224, 224) and float(data[2, 100, 100]) == frame_id
        print("frame", channel_id, frame_id, int(ok), flush=True)
except framebus.ProducerDied:
    print("end producer_died", flush=True)
except framebus.EndOfChannel:
    print("end closed", flush=True)
