"""sail users' scripts, run unchanged but for the import line on framebus.compat.sail: decode,
sail.IPC pipes between processes, sail.Bmcv preprocessing and sail.Engine on a generated ONNX
classifier. Each script runs as a real process; every frame must arrive exactly once with the
pixels sent (the test videos carry their stream and frame number in their colour), and nothing
may be left in /dev/shm."""

from __future__ import annotations

import collections
import os
import pathlib
import subprocess
import sys

import pytest

from media import TINY, ffmpeg, make_model

SCRIPTS = pathlib.Path(__file__).parent / "sail_scripts"
FRAMES = 24  # per video
VIDEOS = 8
PICTURES = 6


def geq(stream: int) -> str:
    # common.colour(stream, index), with N the frame number
    return f"format=gbrp,geq=r='20+30*{stream}':g='16+28*floor(N/8)':b='16+28*mod(N\\,8)'"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("sail-media")
    videos = []
    for k in range(VIDEOS):
        out = root / f"stream{k}.mkv"
        ffmpeg("-f", "lavfi", "-i", "color=c=black:s=96x64:r=25", "-frames:v", str(FRAMES), "-vf", geq(k),
               "-c:v", "ffv1", "-pix_fmt", "gbrp", str(out))
        videos.append(str(out))
    pictures = root / "pictures"
    pictures.mkdir()
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=96x64:r=25", "-frames:v", str(PICTURES), "-vf", geq(7),
           "-start_number", "0", str(pictures / "picture%02d.png"))
    model = root / "tiny.onnx"
    make_model(model, root / "tiny.txt", *TINY)
    return dict(videos=videos, pictures=str(pictures), model=str(model))


def decoder_channels() -> set:
    """The private channels of sail.Decoder / MultiDecoder (named after their process id)."""
    return {p.name for p in pathlib.Path("/dev/shm").glob("framebus.sail.decoder.*")}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run(script: str, *args: str, timeout: float = 240):
    before = decoder_channels()
    proc = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert lines and lines[-1] == ["done"], proc.stdout[-2000:]
    frames = [tuple(int(x) for x in line[1:]) for line in lines if line[0] == "frame"]
    left = [n for n in decoder_channels() - before if not pid_alive(int(n.split(".")[3]))]
    assert left == [], f"{script} left its decoders' channels in /dev/shm"
    return frames, lines


def check_exactly_once(frames, expected):
    """frames: (channel_id, frame_id, stream, index, class); expected: {(channel_id, frame_id):
    (stream, index)} that must each arrive once, with those pixels, and classified."""
    counts = collections.Counter((c, f) for c, f, *_ in frames)
    assert [key for key, n in counts.items() if n > 1] == [], "no frame twice"
    assert set(counts) == set(expected), f"missing {sorted(set(expected) - set(counts))[:10]}, " \
                                         f"unexpected {sorted(set(counts) - set(expected))[:10]}"
    for c, f, stream, index, top in frames:
        assert (stream, index) == expected[(c, f)], f"frame {f} of channel {c} has the pixels of {(stream, index)}"
        assert 0 <= top < 10


def shm_left(pipe: str):
    return sorted(p.name for p in pathlib.Path("/dev/shm").glob(f"framebus.sail.tmp_{pathlib.Path(pipe).name}*"))


@pytest.fixture
def pipe(name):
    path = f"/tmp/{name}"
    yield path
    assert shm_left(path) == [], "nothing left in /dev/shm"


def test_opencv_readers_feed_one_inference_process_through_a_bounded_queue(media):
    frames, _ = run("s0_opencv_queue.py", media["model"], *media["videos"][:3])
    check_exactly_once(frames, {(k, i): (k, i) for k in range(3) for i in range(FRAMES)})


def test_one_decoder_one_pipe_three_receivers_get_every_frame_exactly_once(media, pipe):
    frames, _ = run("s1_one_pipe.py", media["model"], pipe, media["videos"][2], "3")
    check_exactly_once(frames, {(0, i): (2, i) for i in range(FRAMES)})


def test_a_pipe_and_receiver_per_stream_with_the_receivers_started_first(media, pipe):
    frames, _ = run("s2_pipe_per_stream.py", media["model"], pipe, *media["videos"][:3])
    check_exactly_once(frames, {(k, i): (k, i) for k in range(3) for i in range(FRAMES)})


def test_a_multidecoder_feeds_a_pipe_read_by_several_inference_threads(media, pipe):
    frames, _ = run("s3_multidecoder_threads.py", media["model"], pipe, str(FRAMES), "3", *media["videos"][:3])
    check_exactly_once(frames, {(k, i): (k, i) for k in range(3) for i in range(FRAMES)})


def test_a_multidecoder_read_round_robin_over_8_channels_gives_every_frame_in_both_passes(media):
    frames, _ = run("s31_round_robin.py", media["model"], str(FRAMES), *media["videos"])
    check_exactly_once(frames, {(k, n): (k, n % FRAMES) for k in range(VIDEOS) for n in range(2 * FRAMES)})
    for k in range(VIDEOS):  # in order, channel by channel
        assert [f for c, f, *_ in frames if c == k] == list(range(2 * FRAMES))


def test_pictures_from_a_folder_are_decoded_and_sent_over_a_pipe(media, pipe):
    frames, _ = run("s_pictures.py", media["model"], pipe, media["pictures"])
    check_exactly_once(frames, {(0, j): (7, j) for j in range(PICTURES)})


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_ipc_objects_passed_to_multiprocessing_children(media, pipe, method):
    frames, _ = run("s_start_methods.py", media["model"], pipe, method, media["videos"][4])
    check_exactly_once(frames, {(0, i): (4, i) for i in range(FRAMES)})
