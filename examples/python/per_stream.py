#!/usr/bin/python3
"""One channel and one worker process per stream, results in frame order per stream:
`framebus run --topology per-stream` with the Python API.

    decoder (this process) --NAME.frames.0--> worker 0 --+
                           --NAME.frames.1--> worker 1 --+--results--> sink (this process)
                           ...

The arrangement of per-channel camera toolkits, without their failure: a stream that nobody reads
fills only its own channel's slots and waits alone, and a slow worker never stalls the other
streams. `--workers` is ignored: there is one worker per stream. The worker, the sink and the
clean-up are those of shared_workers.py; only the channels differ.
"""

from __future__ import annotations

import sys

import framebus

import common
import shared_workers


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)

    def attach(decoder: framebus.MultiDecoder) -> list[str]:
        channels = []
        for i, source in enumerate(args.source):
            # The stream's own channel is created now, with the decoder's options (the "workers"
            # group declared), so no frame is published before its worker's group exists.
            channels.append(f"{decoder.channel}.{i}")
            decoder.add_stream(source, loop=args.loop, channel=channels[-1])
        return channels

    sys.exit(shared_workers.run(args, common.frame_slots(args, 1), attach))


if __name__ == "__main__":
    main()
