"""framebus.compat.sail's Decoder and MultiDecoder: sail's calls, return codes and queue behaviour,
on videos made at test time whose every frame carries its frame index and its video's number in
black and white stripes (so a wrong, torn or out-of-order frame is seen)."""

from __future__ import annotations

import glob
import http.server
import logging
import os
import pathlib
import threading
import time

import numpy as np
import pytest

import framebus
from framebus.compat import sail
from media import ffmpeg

pytestmark = pytest.mark.skipif(not hasattr(framebus._core, "_MultiDecoder"), reason="built without the decoder")

W, H, FRAMES = 160, 120, 24
HANDLE = sail.Handle(0)


def stripes(index: int, video: int) -> np.ndarray:
    """A BGR frame: 8 stripes in the top half are the bits of ``index``, in the bottom half of ``video``."""
    frame = np.zeros((H, W, 3), np.uint8)
    for bit in range(8):
        frame[:H // 2, bit * 20:(bit + 1) * 20] = 255 * ((index >> (7 - bit)) & 1)
        frame[H // 2:, bit * 20:(bit + 1) * 20] = 255 * ((video >> (7 - bit)) & 1)
    return frame


def decode(bgr: np.ndarray) -> tuple[int, int]:
    """(index, video) of a frame made by ``stripes``; fails the test on a frame that is not one."""
    assert bgr.shape == (H, W, 3)
    index = sum(int(bgr[H // 4, 10 + 20 * b, 1] > 128) << (7 - b) for b in range(8))
    video = sum(int(bgr[3 * H // 4, 10 + 20 * b, 1] > 128) << (7 - b) for b in range(8))
    assert np.abs(bgr.astype(int) - stripes(index, video)).max() < 60, "a frame that is not the one its stripes name"
    return index, video


def make_video(path: pathlib.Path, video: int, frames: int = FRAMES) -> pathlib.Path:
    raw = path.with_suffix(".bgr")
    np.stack([stripes(i, video) for i in range(frames)]).tofile(raw)
    ffmpeg("-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{W}x{H}", "-r", "25", "-i", str(raw),
           "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(path))
    raw.unlink()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("sail_media")
    for video in range(8):
        make_video(root / f"v{video}.mp4", video)
    make_video(root / "v9.ts", 9)
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(root / "pic.png"))
    return root


def shm_left() -> list[str]:
    return glob.glob(f"/dev/shm/framebus.sail.decoder.{os.getpid()}.*")


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert shm_left() == [], "a sail decoder left a channel in /dev/shm"


@pytest.fixture
def made():
    """Decoders made by a test, released at its end also when it fails."""
    decoders: list = []
    yield decoders.append
    for decoder in decoders:
        decoder.release()


@pytest.fixture
def server(media):
    """An HTTP server for v9.ts whose every request after the first waits for ``gate``."""
    gate, requests = threading.Event(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            if len(requests) > 1:
                gate.wait(20)
            body = (media / "v9.ts").read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v9.ts", gate
    gate.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


# -- Decoder ------------------------------------------------------------------------------------

def test_decoder_reads_every_frame_in_order_as_bgr_planar_then_returns_sails_read_error(media, made):
    decoder = sail.Decoder(str(media / "v3.mp4"))
    made(decoder)
    assert decoder.is_opened() and decoder.get_frame_shape() == [1, 3, H, W]
    assert decoder.get_fps() == pytest.approx(25.0)
    image = sail.BMImage()
    for i in range(FRAMES):
        assert decoder.read(HANDLE, image) == 0
        assert image.format() == sail.Format.FORMAT_BGR_PLANAR and np.asarray(image).shape == (3, H, W)
        assert decode(image.asmat()) == (i, 3)
        assert decoder.get_pts_dts() == [pytest.approx(i / 25), pytest.approx(i / 25)]
    assert decoder.read(HANDLE, image) == 5006, "SAIL_ERR_DEC_READ at the end, as sail"
    assert decoder.read(HANDLE, image) == 5006


def test_decoder_read_with_only_a_handle_returns_images_then_an_empty_one(media, made):
    decoder = sail.Decoder(str(media / "v1.mp4"), False, 0)
    made(decoder)
    images = [decoder.read(HANDLE) for _ in range(FRAMES + 1)]
    assert [decode(img.asmat()) for img in images[:FRAMES]] == [(i, 1) for i in range(FRAMES)]
    assert images[-1].empty_check() == 0


def test_decoder_read_underscore_fills_a_bm_image(media, made):
    decoder = sail.Decoder(file_path=str(media / "v2.mp4"), compressed=True, tpu_id=0)
    made(decoder)
    img = sail.BMImage()
    data = img.data()
    assert decoder.read_(HANDLE, data) == 0
    assert (data.width(), data.height(), data.format()) == (W, H, sail.Format.FORMAT_BGR_PLANAR)
    assert decode(sail.BMImage(data).asmat()) == (0, 2)


def test_decoder_resizes_and_converts_into_an_image_that_already_has_a_size_and_format(media, made):
    decoder = sail.Decoder(str(media / "v5.mp4"))
    made(decoder)
    image = sail.BMImage(HANDLE, H * 2, W * 2, sail.Format.FORMAT_RGB_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    assert decoder.read(HANDLE, image) == 0
    assert image.format() == sail.Format.FORMAT_RGB_PACKED and (image.width(), image.height()) == (W * 2, H * 2)
    rgb = np.asarray(image)
    assert decode(np.ascontiguousarray(rgb[::2, ::2, ::-1])) == (0, 5)


def test_decoder_gives_a_picture_at_every_read_as_bgr_packed(media, made):
    decoder = sail.Decoder(str(media / "pic.png"))
    made(decoder)
    assert decoder.get_frame_shape() == [1, 3, 48, 64] and decoder.get_fps() == -1
    first, second = sail.BMImage(), sail.BMImage()
    assert decoder.read(HANDLE, first) == 0 and decoder.read(HANDLE, second) == 0
    assert first.format() == sail.Format.FORMAT_BGR_PACKED
    expected = np.asarray(__import__("cv2").imread(str(media / "pic.png")), np.int16)
    assert np.abs(np.asarray(first).astype(np.int16) - expected).max() <= 2
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_a_missing_video_raises_naming_the_path_and_a_missing_picture_fails_its_reads(tmp_path, caplog):
    with pytest.raises(RuntimeError, match="missing.mp4") as raised:
        sail.Decoder(str(tmp_path / "missing.mp4"))
    assert isinstance(raised.value, sail.SailDecoderError) and isinstance(raised.value, framebus.Error)
    decoder = sail.Decoder(str(tmp_path / "missing.jpg"))  # sail opens pictures at each read
    with caplog.at_level(logging.WARNING, "framebus.compat.sail"):
        assert decoder.read(HANDLE, sail.BMImage()) == 5003
    assert "missing.jpg" in caplog.text
    decoder.release()


def test_decoder_reconnect_starts_again_and_release_closes_it(media, caplog, made):
    decoder = sail.Decoder(str(media / "v4.mp4"))
    made(decoder)
    image = sail.BMImage()
    for _ in range(5):
        assert decoder.read(HANDLE, image) == 0
    assert decoder.reconnect() == 0
    assert decoder.read(HANDLE, image) == 0 and decode(image.asmat()) == (0, 4)
    decoder.release()
    decoder.release()
    assert not decoder.is_opened() and decoder.get_fps() == -1
    with caplog.at_level(logging.WARNING, "framebus.compat.sail"):
        assert decoder.read(HANDLE, image) != 0 and decoder.reconnect() == 1
    assert "release" in caplog.text


def test_decoder_dump_is_refused_with_sails_failure_code_and_a_warning(media, caplog, made):
    decoder = sail.Decoder(str(media / "v0.mp4"))
    made(decoder)
    with caplog.at_level(logging.WARNING, "framebus.compat.sail"):
        decoder.enable_dump(10)
        assert decoder.dump(1, 1, "/tmp/out.mp4") == -1
        decoder.disable_dump()
    assert "/tmp/out.mp4" in caplog.text and "not available" in caplog.text


def test_decoder_refuses_wrong_arguments_naming_them(media, made):
    with pytest.raises(framebus.InvalidArgument, match="file_path"):
        sail.Decoder(42)
    with pytest.raises(framebus.InvalidArgument, match="tpu_id"):
        sail.Decoder(str(media / "v0.mp4"), True, -1)
    decoder = sail.Decoder(str(media / "v0.mp4"))
    made(decoder)
    with pytest.raises(framebus.InvalidArgument, match="image must be a sail.BMImage"):
        decoder.read(HANDLE, np.zeros((H, W, 3), np.uint8))
    with pytest.raises(framebus.InvalidArgument, match="image must be a sail.bm_image"):
        decoder.read_(HANDLE, sail.BMImage())
    with pytest.raises(framebus.InvalidArgument, match="handle"):
        decoder.read(0, sail.BMImage())


def test_decoder_reads_a_network_stream(server, made):
    url, gate = server
    gate.set()
    decoder = sail.Decoder(url)
    made(decoder)
    image = sail.BMImage()
    for i in range(FRAMES):
        assert decoder.read(HANDLE, image) == 0 and decode(image.asmat()) == (i, 9)


def test_release_and_del_leave_no_channel_and_no_thread(media):
    sail.Decoder(str(media / "v0.mp4")).release()  # warms up what framebus keeps for the process
    before = thread_count()
    decoder = sail.Decoder(str(media / "v0.mp4"))
    decoder.read(HANDLE)
    dropped = sail.Decoder(str(media / "v2.mp4"))
    dropped.read(HANDLE)
    multi = sail.MultiDecoder(4)
    multi.add_channel(str(media / "v1.mp4"))
    multi.read(0)
    assert len(shm_left()) == 3
    decoder.release()
    del dropped, multi
    assert shm_left() == [] and thread_count() == before


# -- MultiDecoder -------------------------------------------------------------------------------

def test_eight_channels_read_round_robin_on_two_passes_with_the_channels_deleted_and_added_between(media, made):
    multi = sail.MultiDecoder(queue_size=FRAMES, tpu_id=0, discard_mode=0)
    made(multi)
    image = sail.BMImage()
    for run in range(2):
        channels = [multi.add_channel(str(media / f"v{v}.mp4")) for v in range(8)]
        assert channels == list(range(8 * run, 8 * run + 8)), "indices count up and are never reused"
        for i in range(FRAMES):
            for video, channel in enumerate(channels):
                assert multi.read(channel, image, 1) == 0, f"pass {run}, frame {i}, channel {channel}"
                assert image.format() == sail.Format.FORMAT_BGR_PLANAR
                assert decode(image.asmat()) == (i, video)
        assert [multi.del_channel(c) for c in channels] == [0] * 8


def test_a_local_file_loops_for_ever_and_frame_skip_keeps_one_frame_in_n_plus_one(media, made):
    multi = sail.MultiDecoder(FRAMES + 6)  # room for every frame read: none is dropped
    made(multi)
    looping, skipping = multi.add_channel(str(media / "v6.mp4")), multi.add_channel(str(media / "v7.mp4"), 2)
    indices = [decode(multi.read(looping).asmat())[0] for _ in range(FRAMES + 6)]
    assert indices == list(range(FRAMES)) + list(range(6)), "restarted at the end"
    assert [decode(multi.read(skipping).asmat())[0] for _ in range(4)] == [0, 3, 6, 9]


@pytest.mark.parametrize("discard_mode", [0, 1])
def test_a_full_queue_drops_per_discard_mode_and_counts_the_drops(media, discard_mode, made):
    multi = sail.MultiDecoder(4, 0, discard_mode)
    made(multi)
    multi.set_local_flag(True)  # 25 frames a second: the queue's content is known when it is read
    channel = multi.add_channel(str(media / "v0.mp4"))
    deadline = time.monotonic() + 30
    while multi.get_drop_num(channel) < 3 and time.monotonic() < deadline:
        threading.Event().wait(0.01)  # the decoder runs on; only the count is awaited
    assert multi.get_drop_num(channel) >= 3
    got = [decode(multi.read(channel).asmat())[0] for _ in range(4)]
    if discard_mode == 0:
        assert got == [0, 1, 2, 3], "discard_mode 0 keeps the queued frames and drops the new ones"
    else:
        assert got[0] >= 3 and got == list(range(got[0], got[0] + 4)), "discard_mode 1 pushes the oldest out"


def test_reset_drop_num_and_reconnect_zero_the_count_and_reconnect_starts_again(media, made):
    multi = sail.MultiDecoder(2)
    made(multi)
    multi.set_local_flag(True)  # 25 frames a second: a count just reset stays small
    channel = multi.add_channel(str(media / "v1.mp4"))
    deadline = time.monotonic() + 30
    while multi.get_drop_num(channel) < 10 and time.monotonic() < deadline:
        threading.Event().wait(0.02)
    before = multi.get_drop_num(channel)
    multi.reset_drop_num(channel)
    assert multi.get_drop_num(channel) < before
    assert multi.reconnect(channel) == 0 and multi.get_drop_num(channel) < before
    assert decode(multi.read(channel).asmat()) == (0, 1)


def test_the_local_flag_paces_channels_added_after_it_at_25_frames_a_second(media, made):
    multi = sail.MultiDecoder(FRAMES)
    made(multi)
    fast = multi.add_channel(str(media / "v2.mp4"))
    multi.set_local_flag(True)
    paced = multi.add_channel(str(media / "v3.mp4"))
    image = sail.BMImage()
    start = time.monotonic()
    for _ in range(10):
        assert multi.read(paced, image, 1) == 0
    assert time.monotonic() - start >= 0.3, "10 frames at 25 a second take about 0.4 s"
    assert multi.read(fast, image, 1) == 0 and multi.get_drop_num(fast) > 0, "unpaced: the queue overflowed"


def test_read_mode_0_returns_at_once_and_other_modes_wait_for_the_read_timeout(server, made):
    url, gate = server
    multi = sail.MultiDecoder()
    made(multi)
    channel = multi.add_channel(url)  # the stream's own request waits for the gate
    assert multi.get_frame_shape(channel) == [1, 3, H, W] and multi.get_channel_fps(channel) == pytest.approx(25)
    image = sail.BMImage()
    start = time.monotonic()
    assert multi.read(channel, image, 0) == 1 and time.monotonic() - start < 0.5
    multi.set_read_timeout(1)
    start = time.monotonic()
    assert multi.read(channel, image, 1) == 1
    assert 0.9 <= time.monotonic() - start < 5
    assert multi.get_channel_status(channel) == sail.DecoderStatus.OPENED
    gate.set()
    multi.set_read_timeout(20)
    assert multi.read(channel, image, 1) == 0 and decode(image.asmat()) == (0, 9)


def test_clear_queue_drops_the_queued_frames(media, made):
    multi = sail.MultiDecoder(4)
    made(multi)
    multi.set_local_flag(True)  # 25 frames a second: after clearing, 4 frames take at least 0.12 s
    channel = multi.add_channel(str(media / "v4.mp4"))
    deadline = time.monotonic() + 30
    while multi.get_drop_num(channel) < 1 and time.monotonic() < deadline:
        threading.Event().wait(0.01)  # the queue is full: frames 0 to 3
    assert multi.clear_queue(channel) == 0
    image, start = sail.BMImage(), time.monotonic()
    for _ in range(4):
        assert multi.read(channel, image, 1) == 0
    assert time.monotonic() - start >= 0.1, "the queued frames were still there"


def test_read_underscore_forms_fill_or_return_a_bm_image(media, made):
    multi = sail.MultiDecoder()
    made(multi)
    channel = multi.add_channel(str(media / "v5.mp4"))
    data = sail.BMImage().data()
    assert multi.read_(channel, data, 1) == 0 and decode(sail.BMImage(data).asmat()) == (0, 5)
    returned = multi.read_(channel)
    assert isinstance(returned, sail.bm_image) and decode(sail.BMImage(returned).asmat()) == (1, 5)


def test_a_picture_channel_repeats_the_picture(media, made):
    multi = sail.MultiDecoder(2)
    made(multi)
    channel = multi.add_channel(str(media / "pic.png"))
    first, second = multi.read(channel), multi.read(channel)
    assert first.format() == sail.Format.FORMAT_BGR_PACKED and np.asarray(first).shape == (48, 64, 3)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_unknown_and_deleted_channels_get_sails_codes_with_a_warning_naming_the_index(media, caplog, made):
    multi = sail.MultiDecoder()
    made(multi)
    channel = multi.add_channel(str(media / "v6.mp4"))
    assert multi.del_channel(channel) == 0
    image = sail.BMImage()
    with caplog.at_level(logging.WARNING, "framebus.compat.sail"):
        assert multi.read(channel, image) == -1 and multi.read(channel).empty_check() == 0
        assert multi.read_(channel, image.data()) == -1
        assert multi.del_channel(channel) == 1 and multi.clear_queue(7) == 1 and multi.reconnect(7) == 1
        assert multi.get_frame_shape(7) == [] and multi.get_channel_fps(7) == 1.0
        assert multi.get_channel_status(7) == sail.DecoderStatus.NONE
    assert "channel_idx 7 is not a channel" in caplog.text
    for call in (multi.get_drop_num, multi.reset_drop_num):
        with pytest.raises(framebus.InvalidArgument, match="channel_idx 0"):
            call(0)


def test_multidecoder_refuses_wrong_arguments_naming_them(media, tmp_path, made):
    with pytest.raises(framebus.InvalidArgument, match="queue_size"):
        sail.MultiDecoder(0)
    multi = sail.MultiDecoder()
    made(multi)
    with pytest.raises(RuntimeError, match="nothing.mp4"):
        multi.add_channel(str(tmp_path / "nothing.mp4"))
    with pytest.raises(framebus.InvalidArgument, match="frame_skip_num"):
        multi.add_channel(str(media / "v0.mp4"), -1)
    channel = multi.add_channel(str(media / "v0.mp4"))
    with pytest.raises(framebus.InvalidArgument, match="image must be a sail.BMImage"):
        multi.read(channel, "image")
    with pytest.raises(framebus.InvalidArgument, match="timeout"):
        multi.set_read_timeout(-1)
