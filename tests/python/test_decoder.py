"""framebus.MultiDecoder and `framebus decode`: media made by ffmpeg at test time."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import framebus
from media import ffmpeg

pytestmark = pytest.mark.skipif(not hasattr(framebus._core, "_MultiDecoder"), reason="built without the decoder")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("media")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "40", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(root / "a.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=176x144:rate=30", "-frames:v", "30", "-c:v", "mpeg4",
           str(root / "b.avi"))
    ffmpeg("-i", str(root / "a.mp4"), "-f", "rawvideo", "-pix_fmt", "bgr24", str(root / "a.bgr"))
    folder = root / "pictures"
    folder.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=1", "-frames:v", "3", str(folder / "img_%02d.png"))
    (folder / "img_01b.jpg").write_bytes(b"this is not a jpeg")
    (folder / "img_02b.bmp").write_bytes(b"")
    (root / "text.mp4").write_text("not a video\n")
    return root


def drain(rx: framebus.Consumer, streams: int) -> dict:
    """stream -> list of (frame_id, pts, array copy or None); until every stream's marker came."""
    got: dict = {}
    ended = 0
    while ended < streams:
        msg = rx.receive(30.0)
        assert msg is not None, "a decoder stream stalled"
        if msg.end_of_stream:
            ended += 1
            got.setdefault(msg.stream, [])
            continue
        got.setdefault(msg.stream, []).append((msg.frame_id, msg.pts, msg.array.copy() if msg.frame_id < 3 else None))
        msg.release()
    return got


def test_files_decode_into_the_channel_in_order_with_pixels_equal_to_ffmpegs(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        a = dec.add_stream(str(media / "a.mp4"))
        b = dec.add_stream(str(media / "b.avi"), format="gray8")
        got = drain(rx, 2)
        assert [f for f, _, _ in got[a]] == list(range(40))
        assert [p for _, p, _ in got[a]] == [i * 40_000 for i in range(40)], "pts in microseconds"
        assert [f for f, _, _ in got[b]] == list(range(30))
        reference = np.fromfile(media / "a.bgr", np.uint8).reshape(-1, 240, 320, 3)
        for i in range(3):
            np.testing.assert_array_equal(got[a][i][2], reference[i])
        assert got[b][0][2].shape == (144, 176)
        assert dec.status(a)["state"] == "eof" and dec.status(a)["published"] == 40
        assert dec.status(a)["native_fps"] == pytest.approx(25.0)


def test_bad_sources_report_errors_while_the_others_complete(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        good = dec.add_stream(str(media / "a.mp4"))
        missing = dec.add_stream(str(media / "missing.mp4"))
        text = dec.add_stream(str(media / "text.mp4"))
        got = drain(rx, 3)
        assert len(got[good]) == 40
        assert got[missing] == [] and got[text] == []
        for stream, fragment in ((missing, "missing.mp4"), (text, "text.mp4")):
            status = dec.status(stream)
            assert status["state"] == "error" and fragment in status["message"], status


def test_an_image_folder_is_one_stream_that_skips_broken_images(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        stream = dec.add_stream(str(media / "pictures"))
        got = drain(rx, 1)
        assert [f for f, _, _ in got[stream]] == [0, 1, 2], "3 good pictures, in name order"
        status = dec.status(stream)
        assert status["state"] == "eof" and status["decode_errors"] == 2
        assert got[stream][0][2].shape == (48, 64, 3)


def test_loop_and_frame_skip(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        looped = dec.add_stream(str(media / "b.avi"), loop=2)
        skipped = dec.add_stream(str(media / "a.mp4"), frame_skip=1)
        got = drain(rx, 2)
        assert [f for f, _, _ in got[looped]] == list(range(60)), "two passes, ids contiguous"
        assert [f for f, _, _ in got[skipped]] == list(range(20)), "one frame in two"
        assert dec.status(skipped)["skipped"] == 20


def test_a_stream_given_a_channel_publishes_into_it_and_that_channel_ends_at_close(name, media):
    own = f"{name}.own"
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec:
        a = dec.add_stream(str(media / "a.mp4"), channel=own)
        b = dec.add_stream(str(media / "b.avi"), channel=None)
        with pytest.raises(framebus.InvalidName, match="no/slash"):
            dec.add_stream(str(media / "b.avi"), channel="no/slash")
        rx_own = framebus.Consumer(own, group="g")  # add_stream created it
        rx = framebus.Consumer(name, group="g")
        assert [f for f, _, _ in drain(rx_own, 1)[a]] == list(range(40))
        assert list(drain(rx, 1)) == [b], "only the stream without a channel of its own"
        assert dec.status(a)["channel"] == own and dec.status(b)["channel"] == name
    with pytest.raises(framebus.EndOfChannel):
        rx_own.receive(5.0)
    assert rx_own.end_reason == "closed"
    rx_own.close()
    rx.close()
    assert not pathlib.Path(f"/dev/shm/framebus.{own}").exists()


def test_the_decode_command_feeds_a_consumer_and_exits_when_the_files_end(name, media):
    build = os.environ.get("FRAMEBUS_BUILD_DIR")
    tool = os.path.join(build, "tools", "framebus") if build else shutil.which("framebus")
    if tool is None:
        pytest.skip("the framebus tool is not built here (scripts/test sets FRAMEBUS_BUILD_DIR)")
    proc = subprocess.Popen([tool, "decode", str(media / "a.mp4"), str(media / "missing.mp4"), "--channel", name,
                             "--group", "g", "--slots", "8", "--status-interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rx = framebus.Consumer(name, group="g", wait=30)
        frames = [m.frame_id for m in rx if not m.end_of_stream and m.stream == 0]
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert frames == list(range(40))
    assert rx.end_reason == "closed"
    assert proc.returncode == 1, "a stream ended in error"
    assert "eof" in out and "missing.mp4" in out and "No such file" in out
    assert "[0]" in err, "live status lines"
    rx.close()
