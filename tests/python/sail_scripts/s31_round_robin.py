"""Scenario 31: a sail.MultiDecoder read round-robin over its channels for two passes of every
video (sail's MultiDecoder restarts a file at its end), each frame classified.

argv: model.onnx frames video... (`frames`: the frames of each video). Prints common.report lines
with channel_id = the MultiDecoder channel and frame_id = the count read from it, then "done". (The channels drop frames
of later passes once their queues are full: the two passes read fit in them.)
"""
import sys

from framebus.compat import sail

from common import ResNet, report

model_path, frames, videos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
net = ResNet(model_path)
multi_decoder = sail.MultiDecoder(2 * frames + 2, 0, 0)  # two passes fit: no frame is dropped
channels = [multi_decoder.add_channel(video) for video in videos]
for count in range(2 * frames):
    for idx in channels:
        img = sail.BMImage()
        ret = multi_decoder.read(idx, img, 1)
        if ret != 0:
            sys.exit(f"channel {idx} read {count} returned {ret}")
        report(idx, count, img, net(img))
multi_decoder.release()
print("done", flush=True)
