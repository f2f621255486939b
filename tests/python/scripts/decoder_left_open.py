"""A MultiDecoder whose looping stream waits for room in a channel nobody reads, dropped
without close().

    decoder_left_open.py NAME VIDEO WAY      WAY: del (``del dec``, then print how long it took)
                                                  or exit (the script simply ends)

Run as its own process by test_exit.py: a hang or abort there is that test's failure.
"""
import sys
import time

import framebus

name, video, way = sys.argv[1], sys.argv[2], sys.argv[3]
dec = framebus.MultiDecoder(name, slots=2, slot_size="1MiB", policy="block", groups=["nobody"], linger=0.5)
stream = dec.add_stream(video, loop=None)
# Both slots filled: the stream's thread now waits for room that never comes.
while dec.status(stream)["published"] < 2:
    dec.wait(0.01, stream=stream)
print("blocked", flush=True)
if way == "del":
    start = time.monotonic()
    del dec
    print("deleted", round(time.monotonic() - start, 3), flush=True)
