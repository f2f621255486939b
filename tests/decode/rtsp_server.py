#!/usr/bin/python3
"""A test RTSP server on 127.0.0.1, built on GStreamer's gst-rtsp-server (Debian packages
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and -bad).

    rtsp_server.py FILE.mp4 [--port N] [--path /stream]

Serves the H.264 video of FILE.mp4 at rtsp://127.0.0.1:PORT/PATH over RTP interleaved in the
RTSP TCP connection, each client from the start of the file at its native rate. Port 0 (the
default) takes a free port. Prints the bound port on one line once it listens, then serves until
killed; exits 1 if it cannot listen.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/stream")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    location = args.file.replace("\\", "\\\\").replace('"', '\\"')
    # config-interval=-1 repeats SPS/PPS before every key frame, as a camera does.
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse '
                       f'! rtph264pay name=pay0 pt=96 config-interval=-1 )')
    factory.set_shared(False)  # every client gets its own pipeline, from the first frame
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory(args.path, factory)

    if server.attach(None) == 0:
        print(f"rtsp_server.py: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(server.get_bound_port(), flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
