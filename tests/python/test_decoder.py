"""framebus.MultiDecoder and `framebus decode`: media made by ffmpeg at test time."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import threading
import time

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
        got.setdefault(msg.stream, []).append((msg.frame, msg.pts, msg.array.copy() if msg.frame < 3 else None))
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


def test_loop_none_restarts_the_file_until_remove_stream_whose_marker_then_arrives(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        stream = dec.add_stream(str(media / "b.avi"), loop=None)  # 30 frames a pass
        frames = []
        deadline = time.monotonic() + 60
        while len(frames) < 100 and time.monotonic() < deadline:
            msg = rx.receive(1.0)
            if msg is None:
                continue
            assert not msg.end_of_stream, "a stream that loops forever never ends by itself"
            frames.append((msg.frame, msg.pts))
            msg.release()
        assert len(frames) == 100, "frames 90..99 come from the fourth pass"
        status = dec.status(stream)
        assert status["state"] == "running" and status["passes"] >= 4, status
        # remove_stream waits for the stream's thread, whose marker needs room: read meanwhile.
        remover = threading.Thread(target=dec.remove_stream, args=(stream,))
        remover.start()
        while True:
            msg = rx.receive(30.0)
            assert msg is not None, "the removed stream's marker never came"
            if msg.end_of_stream:
                marker = msg.frame
                break
            frames.append((msg.frame, msg.pts))
            msg.release()
        remover.join(30)
        assert not remover.is_alive()
        assert [f for f, _ in frames] == list(range(len(frames))), "ids keep counting across passes"
        assert all(b > a for (_, a), (_, b) in zip(frames, frames[1:])), "pts keep increasing across passes"
        assert marker == len(frames), "the marker counts the ids the stream used"
        with pytest.raises(framebus.NotFound):
            dec.status(stream)
        with pytest.raises(FileNotFoundError):
            dec.remove_stream(stream)
        assert dec.statuses() == []


def test_wait_is_false_while_a_paced_stream_runs_and_true_once_it_has_ended(name, media):
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        start = time.monotonic()
        stream = dec.add_stream(str(media / "a.mp4"), max_fps=20)  # 40 frames: 39 gaps of 50 ms
        assert dec.wait(0.2) is False
        assert dec.wait(0.1, stream=stream) is False
        got = drain(rx, 1)
        took = time.monotonic() - start
        assert dec.wait(10) is True
        assert dec.wait(10, stream=stream) is True
        assert [f for f, _, _ in got[stream]] == list(range(40))
        assert took >= 1.9, "max_fps=20 spaces 40 frames over 1.95 s"
        assert dec.status(stream)["state"] == "eof"


def test_threads_and_frame_skip_from_python_keep_ffmpegs_pixels(name, media):
    reference = np.fromfile(media / "a.bgr", np.uint8).reshape(-1, 240, 320, 3)
    with framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5) as dec, \
            framebus.Consumer(name, group="g") as rx:
        single = dec.add_stream(str(media / "a.mp4"), threads=1)
        skipping = dec.add_stream(str(media / "a.mp4"), threads=3, frame_skip=3)
        with pytest.raises(framebus.InvalidArgument, match="threads"):
            dec.add_stream(str(media / "a.mp4"), threads=-1)
        got = drain(rx, 2)
        assert [f for f, _, _ in got[single]] == list(range(40))
        assert [f for f, _, _ in got[skipping]] == list(range(10)), "one frame in four, ids contiguous"
        assert [p for _, p, _ in got[skipping]] == [i * 4 * 40_000 for i in range(10)]
        for i in range(3):
            np.testing.assert_array_equal(got[single][i][2], reference[i])
            np.testing.assert_array_equal(got[skipping][i][2], reference[i * 4])
        status = dec.status(skipping)
        assert (status["decoded"], status["skipped"], status["published"]) == (40, 30, 10)


def test_stop_ends_every_stream_as_stopped_and_close_ends_the_channel(name, media):
    dec = framebus.MultiDecoder(name, slots=8, groups=["g"], linger=5)
    rx = framebus.Consumer(name, group="g")
    video = dec.add_stream(str(media / "a.mp4"), loop=None, max_fps=50)
    pictures = dec.add_stream(str(media / "pictures"), loop=0)  # 0 loops forever too
    seen = {video: 0, pictures: 0}
    deadline = time.monotonic() + 60
    while (seen[video] < 3 or seen[pictures] < 7) and time.monotonic() < deadline:
        msg = rx.receive(1.0)
        if msg is not None:
            assert not msg.end_of_stream
            seen[msg.stream] += 1
            msg.release()
    assert seen[pictures] >= 7, "3 good pictures a pass: a third pass began"
    statuses = dec.statuses()
    assert [s["id"] for s in statuses] == [video, pictures]
    # A looping stream reopens its source at every pass: "opening" for a moment, never finished.
    assert {s["state"] for s in statuses} <= {"opening", "running"} and not any(s["finished"] for s in statuses)
    assert statuses[1]["decode_errors"] >= 2 and statuses[1]["source"] == str(media / "pictures")
    # stop() joins the streams, whose markers need room: read meanwhile.
    stopper = threading.Thread(target=dec.stop)
    stopper.start()
    ended = set()
    while len(ended) < 2:
        msg = rx.receive(30.0)
        assert msg is not None, "a stopped stream's marker never came"
        if msg.end_of_stream:
            ended.add(msg.stream)
        msg.release()
    stopper.join(30)
    assert not stopper.is_alive()
    assert [(s["state"], s["finished"]) for s in dec.statuses()] == [("stopped", True)] * 2
    assert dec.wait(5) is True
    dec.close()
    with pytest.raises(framebus.EndOfChannel):
        rx.receive(5.0)
    with pytest.raises(framebus.Closed):
        dec.status(video)
    # Calls that release the GIL look the decoder up first, with the GIL held, to raise Closed.
    for call in (lambda: dec.add_stream(str(media / "a.mp4")), lambda: dec.remove_stream(video), dec.stop,
                 lambda: dec.wait(1.0), dec.statuses):
        with pytest.raises(framebus.Closed):
            call()
    dec.close()  # again: nothing left to do
    rx.close()


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
        frames = [m.frame for m in rx if not m.end_of_stream and m.stream == 0]
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert frames == list(range(40))
    assert rx.end_reason == "closed"
    assert proc.returncode == 1, "a stream ended in error"
    assert "eof" in out and "missing.mp4" in out and "No such file" in out
    # Live status lines: stream, state, fps, frames, drops, skips, errors, source.
    line = re.compile(r"\[0\] (opening|running|eof) +\d+\.\d fps +\d+ frames +\d+ dropped +\d+ skipped +\d+ errors  "
                      + re.escape(str(media / "a.mp4")))
    assert line.search(err), err
    assert re.search(r"\[1\] error .* No such file", err), err
    rx.close()


def test_probe_reports_a_sources_size_rate_and_length_without_a_channel(media):
    info = framebus.probe(media / "a.mp4")
    assert info["kind"] == "file"
    assert (info["width"], info["height"]) == (320, 240)
    assert info["native_fps"] == 25.0 and info["frames"] == 40
    folder = framebus.probe(media / "pictures")
    assert folder["kind"] == "image_folder" and (folder["width"], folder["height"]) == (64, 48)
    assert folder["frames"] == 5, "every picture file, also the two that will not decode"
    with pytest.raises(framebus.Error, match="text.mp4"):
        framebus.probe(media / "text.mp4")


def test_probe_names_a_missing_source_at_once(media):
    missing = media / "no-such.mp4"
    started = time.monotonic()
    with pytest.raises(framebus.NotFound, match=re.escape(str(missing))):
        framebus.probe(missing)
    assert time.monotonic() - started < 1.0
