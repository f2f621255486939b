"""sail's ``Decoder`` on framebus's FFmpeg decoder, and the plumbing it shares with
``MultiDecoder``: a source decoded by a private ``framebus.MultiDecoder`` into a private channel,
read by a ``framebus.Consumer``, each frame copied into the caller's image.

Why a private channel per source: it gives each source its own slots (frames in flight) sized to
its frames, its own drop policy and counters, and closing it removes everything from /dev/shm.
Why a probe first: sail opens the source in the constructor (a missing file raises there, and
``get_frame_shape`` answers at once); ``framebus.probe`` opens it and reports its size and rate
without keeping a frame, and the private channel's slots are then sized to its frames.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from typing import Any, List, Optional, Union

import numpy as np

from ... import _exit
from ..._decoder import MultiDecoder as _FramebusDecoder
from ..._decoder import probe as _probe
from ..._endpoints import Consumer
from ..._errors import Closed, EndOfChannel, Error, InvalidArgument
from ._base import int_arg
from ._pixels import from_bgr
from ._types import BMImage, Format, Handle, bm_image

log = logging.getLogger("framebus.compat.sail")

# sail's status codes (sail_status_t) that the decoders return.
SAIL_ERR_DEC_OPEN = 5003
SAIL_ERR_DEC_READ = 5006
SAIL_ERR_DEC_TIMEOUT = 5008
SAIL_ERR_DEC_CVT = 5009

_PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")  # sail decodes these as one picture
_OPEN_SECONDS = 5.0  # a network source's connect and first-read timeouts
_FIRST_FRAME_SECONDS = 15.0  # a picture's decoder: opening it, then its one frame
_GROUP = "sail"
_names = itertools.count()


class SailDecoderError(Error, RuntimeError):
    """A source could not be opened or reopened. sail raises ``RuntimeError`` (its constructors)
    or ``sail.SailDecoderError`` (``reconnect``); this is both, and a framebus ``Error``."""


def is_picture(path: str) -> bool:
    """True for the paths sail decodes as a single picture (by their suffix, as sail does)."""
    return path.lower().endswith(_PICTURE_SUFFIXES)


def is_network(path: str) -> bool:
    return "://" in path and not path.startswith("file:")


def path_arg(value: object, argument: str = "file_path") -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise InvalidArgument(f"{argument} must be a non-empty path or URL string, not {value!r}")
    return os.fspath(value)  # type: ignore[arg-type]


def image_arg(value: object, kind: type, argument: str = "image") -> Any:
    if not isinstance(value, kind):
        raise InvalidArgument(f"{argument} must be a sail.{kind.__name__} (e.g. sail.BMImage()), not "
                              f"{type(value).__name__}")
    return value


def private_channel() -> str:
    return f"sail.decoder.{os.getpid()}.{next(_names)}"  # the pid: a forked child never reuses a name


def probe(path: str) -> dict:
    """Opens ``path`` once (``framebus.probe``: its first frame is decoded, nothing is kept) and
    returns its width, height and native_fps; SailDecoderError naming the path if it cannot be
    opened or yields no frame."""
    try:
        return _probe(path, connect_timeout=_OPEN_SECONDS, read_timeout=_OPEN_SECONDS)
    except Error as error:
        raise SailDecoderError(f"cannot open file_path '{path}': {error}") from error


def resize_nearest(bgr: np.ndarray, h: int, w: int) -> np.ndarray:
    """``bgr`` resized to ``h`` x ``w`` by nearest neighbour (sail's vpp_resize default)."""
    rows = np.arange(h) * bgr.shape[0] // h
    cols = np.arange(w) * bgr.shape[1] // w
    return bgr[rows[:, None], cols]


def fill(image: Union[BMImage, bm_image], bgr: np.ndarray, default: Format, keep_geometry: bool) -> None:
    """Puts the BGR packed frame ``bgr`` into ``image`` as a new private array.

    An empty image (or ``keep_geometry`` False) gets the frame in ``default`` format; otherwise,
    as sail's ``Decoder.read``, the frame is resized and converted into the image's own size and
    format."""
    h, w = image.height(), image.width()
    if not keep_geometry or not h or not w:
        image._assign(from_bgr(bgr, default), default)
        return
    fmt = image.format()
    if (h, w) != bgr.shape[:2]:
        bgr = resize_nearest(bgr, h, w)
    image._assign(from_bgr(bgr, fmt), fmt)


class Source:
    """One source decoded into a private channel: ``next()`` returns its frames in order."""

    def __init__(self, path: str, *, slots: int, policy: str, loop: Optional[int], frame_skip: int = 0,
                 max_fps: float = 0.0) -> None:
        self.path = path
        self.info = probe(path)
        self.width, self.height = int(self.info["width"]), int(self.info["height"])
        self.fps = float(self.info["native_fps"])
        self.channel = private_channel()
        self.ended = False
        self._decoder: Optional[_FramebusDecoder] = None
        self._consumer: Optional[Consumer] = None
        # linger 0: closing never waits; a reader that stopped reading loses nothing it wanted.
        self._decoder = _FramebusDecoder(self.channel, slots=slots, slot_size=max(self.width * self.height * 3, 4096),
                                         policy=policy, groups=[_GROUP], linger=0.0)
        _exit.untrack(self._decoder)  # closed by its owner, consumer first (see close)
        try:
            self._consumer = Consumer(self.channel, group=_GROUP)
            _exit.untrack(self._consumer)
            self._stream = self._decoder.add_stream(path, loop=loop, frame_skip=frame_skip, max_fps=max_fps,
                                                    reconnect=True, format="bgr24")
        except BaseException:
            self.close()
            raise

    def next(self, timeout: Optional[float]) -> Optional[Any]:
        """The next frame message (the caller releases it), None after ``timeout`` seconds (None:
        wait until the stream ends) or once the stream has ended (then ``ended`` is True)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        finished, left = False, 0.0  # a queued frame first, without asking the stream's state
        while not self.ended and self._consumer is not None:
            try:
                msg = self._consumer.receive(left)
            except (EndOfChannel, Closed):
                break
            if msg is not None and not msg.end_of_stream:
                return msg
            if msg is not None or finished:
                break
            if deadline is not None and time.monotonic() >= deadline:
                return None
            # Slices of 0.25 s: the end-of-stream marker may be missing (there was no room for it
            # when the stream ended), so a finished stream whose queue is empty has ended too.
            try:
                finished = self._decoder is not None and self._decoder.status(self._stream)["finished"]
            except Closed:  # closed by another thread meanwhile
                break
            left = 0.0 if finished else 0.25 if deadline is None else min(0.25, max(0.0, deadline - time.monotonic()))
        if not self.ended:
            self.ended = True
            self._report_end()
        return None

    def _report_end(self) -> None:
        try:
            status = self.status()
        except Error:
            return
        if status.get("state") == "error":
            log.warning("sail decoder: '%s' stopped: %s", self.path, status.get("message"))

    def status(self) -> dict:
        if self._decoder is None:
            raise Closed(f"the decoder of '{self.path}' is closed")
        return self._decoder.status(self._stream)

    def drain(self) -> None:
        """Gives back every frame queued now."""
        while self._consumer is not None:
            try:
                msg = self._consumer.receive(0)
            except (EndOfChannel, Closed):
                return
            if msg is None:
                return
            if msg.end_of_stream:
                self.ended = True
            msg.release()

    def close(self) -> None:
        # The consumer first: a reader waiting in it wakes at once, and with the group left
        # without a member the decoder's close (linger 0) discards what is queued at once.
        consumer, self._consumer = self._consumer, None
        decoder, self._decoder = self._decoder, None
        if consumer is not None:
            consumer.close()
        if decoder is not None:
            decoder.close()


class ReleasedWhenDropped:
    """sail frees a decoder when its object goes: ``release()`` runs at ``del``, at garbage
    collection and at interpreter exit (``framebus._exit`` calls ``_close_at_exit``)."""

    def _close_at_exit(self) -> None:
        self.release()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        try:
            self.release()  # type: ignore[attr-defined]  # each decoder class defines it
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down framebus already
            pass


class Decoder(ReleasedWhenDropped):
    """sail.Decoder: frames of a video file, a picture or a network stream, one per ``read``.

    Video frames come as FORMAT_BGR_PLANAR, pictures as FORMAT_BGR_PACKED (what sail's decoder
    gives); a non-empty image passed to ``read`` keeps its size and format (the frame is resized
    and converted into it). ``compressed`` and ``tpu_id`` are accepted and have no effect.
    """

    def __init__(self, file_path: str, compressed: bool = True, tpu_id: int = 0) -> None:
        self._path = path_arg(file_path)
        self._compressed = bool(compressed)
        self._tpu_id = int_arg(tpu_id, "tpu_id")
        self._source: Optional[Source] = None
        self._picture: Optional[tuple] = None  # (file signature, BGR array)
        self._pts = 0.0
        self._pid = os.getpid()
        self._opened = False
        self._open()
        _exit.track(self)

    def _open(self) -> None:
        if not is_picture(self._path):
            # Read-ahead of 4 frames; "block": a file loses no frame to a slow reader, and a live
            # stream waits for the reader as sail's synchronous read does.
            self._source = Source(self._path, slots=4, policy="block", loop=1)
        self._opened = True

    def is_opened(self) -> bool:
        return self._opened

    def read(self, handle: Handle, image: Optional[BMImage] = None) -> Union[int, BMImage]:
        """``read(handle, image)``: 0 with the next frame in ``image``, else sail's error code
        (SAIL_ERR_DEC_READ at the end of a video). ``read(handle)``: the next frame as a new
        BMImage, empty when there is none."""
        image_arg(handle, Handle, "handle")
        if image is None:
            out = BMImage()
            self._read(out)
            return out
        return self._read(image_arg(image, BMImage))

    def read_(self, handle: Handle, image: bm_image) -> int:
        """The next frame into the bm_image ``image``; 0 on success, as ``read``."""
        image_arg(handle, Handle, "handle")
        return self._read(image_arg(image, bm_image))

    def _read(self, image: Union[BMImage, bm_image]) -> int:
        if not self._opened:
            log.warning("sail.Decoder of '%s': read after release()", self._path)
            return SAIL_ERR_DEC_OPEN
        if self._source is None:
            return self._read_picture(image)
        msg = self._source.next(None if not is_network(self._path) else 20.0)
        if msg is None:
            if self._source.ended:
                return SAIL_ERR_DEC_READ
            log.warning("sail.Decoder of '%s': no frame within 20 s", self._path)
            return SAIL_ERR_DEC_TIMEOUT
        try:
            self._pts = msg.pts / 1e6
            fill(image, msg.array, Format.FORMAT_BGR_PLANAR, keep_geometry=True)
        except Error as error:
            log.warning("sail.Decoder of '%s': cannot put the frame into the image: %s", self._path, error)
            return SAIL_ERR_DEC_CVT
        finally:
            msg.release()
        return 0

    def _read_picture(self, image: Union[BMImage, bm_image]) -> int:
        bgr = self._picture_pixels()
        if bgr is None:
            return SAIL_ERR_DEC_OPEN
        fill(image, bgr, Format.FORMAT_BGR_PACKED, keep_geometry=True)
        return 0

    def _picture_pixels(self) -> Optional[np.ndarray]:
        # Decoded again when the file changed, as sail decodes the file at every read.
        try:
            st = os.stat(self._path)
        except OSError as error:
            log.warning("sail.Decoder: cannot open picture file_path '%s': %s", self._path, error.strerror)
            return None
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._picture is None or self._picture[0] != signature:
            try:
                source = Source(self._path, slots=1, policy="block", loop=1)
            except SailDecoderError as error:
                log.warning("sail.Decoder: %s", error)
                return None
            try:
                msg = source.next(_FIRST_FRAME_SECONDS)
                if msg is None:
                    log.warning("sail.Decoder: picture '%s' gave no image", self._path)
                    return None
                self._picture = (signature, msg.array.copy())
                msg.release()
            finally:
                source.close()
        return self._picture[1]

    def get_frame_shape(self) -> List[int]:
        """[1, 3, height, width] ([1, 3, 0, 0] for a picture that cannot be decoded)."""
        if self._source is not None:
            return [1, 3, self._source.height, self._source.width]
        bgr = self._picture_pixels() if self._opened else None
        return [1, 3, 0, 0] if bgr is None else [1, 3, bgr.shape[0], bgr.shape[1]]

    def get_fps(self) -> float:
        """The video's frame rate; -1 for a picture or after release, as sail."""
        return self._source.fps if self._source is not None else -1.0

    def get_pts_dts(self) -> List[float]:
        """[pts, dts] of the last frame read, in seconds (framebus keeps no dts: both are the pts)."""
        return [self._pts, self._pts]

    def reconnect(self) -> int:
        """Reopens the source from its start: 0, or 1 after ``release()`` (as sail). Raises
        SailDecoderError if it cannot be opened again."""
        if not self._opened:
            log.warning("sail.Decoder of '%s': reconnect after release()", self._path)
            return 1
        self.release()
        self._picture = None
        self._open()
        _exit.track(self)
        return 0

    def enable_dump(self, dump_max_seconds: int) -> None:
        """Not available: framebus keeps no compressed packets to dump. Logs a warning."""
        int_arg(dump_max_seconds, "dump_max_seconds")
        log.warning("sail.Decoder.enable_dump: not available in framebus.compat.sail (no compressed packets "
                    "are kept); dump() will return -1")

    def disable_dump(self) -> None:
        """Nothing to disable (see ``enable_dump``)."""

    def dump(self, dump_pre_seconds: int, dump_post_seconds: int, file_path: str) -> int:
        """-1 (sail's failure), with a warning: framebus keeps no compressed packets to dump."""
        log.warning("sail.Decoder.dump to '%s': not available in framebus.compat.sail (no compressed packets "
                    "are kept); record the source with ffmpeg instead", file_path)
        return -1

    def release(self) -> None:
        """Stops decoding and frees the source; ``is_opened()`` is then False. Idempotent."""
        _exit.untrack(self)
        source, self._source = self._source, None
        self._opened = False
        if source is not None and self._pid == os.getpid():
            source.close()

    def __repr__(self) -> str:
        return f"<sail.Decoder {self._path!r} {'opened' if self._opened else 'released'}>"


# MultiDecoder builds on Source above; it is re-exported here because the package star-imports
# this module for both decoders.
from ._multi_decoder import DecoderStatus, MultiDecoder  # noqa: E402

__all__ = ["Decoder", "MultiDecoder", "DecoderStatus", "SailDecoderError"]
