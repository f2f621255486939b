"""A receiver written the way sail's IPC samples are, with only the import changed.

Prints one line per frame: "<kind> <channel_id> <frame_id> <ok>".
"""
import sys

import framebus
from framebus.compat import sail

pipe_path, final_path, usec2c = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ipc = sail.IPC(False, pipe_path, final_path, usec2c)
print("ready", flush=True)
try:
    while True:
        data, channel_id, frame_id = ipc.receiveTensor()
        if channel_id == 0:
            ok = data.shape == (360, 640, 3) and int(data[0, 0, 0]) == frame_id % 256
        else:
            ok = data.shape == (3, 224, 224) and float(data[2, 100, 100]) == frame_id
        private = data.flags.writeable and data.flags.owndata
        print("frame", channel_id, frame_id, int(ok), int(private), flush=True)
except framebus.ProducerDied:
    print("end producer_died", flush=True)
except framebus.EndOfChannel:
    print("end closed", flush=True)
