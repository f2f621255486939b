"""MultiDecoder: many video files, URLs and image folders decoded into one channel, or one
channel per stream."""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

from . import _core, _exit
from ._errors import Closed
from ._sizes import parse_size


def probe(source: Union[str, "os.PathLike[str]"], *, connect_timeout: float = 5.0, read_timeout: float = 5.0) -> dict:
    """Opens ``source`` as :meth:`MultiDecoder.add_stream` would, decodes its first frame and
    returns what it is: ``source``, ``kind`` ('file', 'network', 'image_folder', 'image_glob'),
    ``width``, ``height`` (of the first frame), ``native_fps`` (0 when unknown) and ``frames`` in
    one pass (0 when unknown, e.g. live). Raises :class:`NotFound` for a missing file or an empty
    folder, :class:`Timeout` for a network source that does not answer within the timeouts, and
    :class:`InvalidArgument` / :class:`Corrupt` for something that holds no decodable video;
    each message names the source. The GIL is released meanwhile."""
    if not hasattr(_core, "_probe"):
        raise Closed("this framebus was built without the decoder module (FFmpeg)")
    return _core._probe(os.fspath(source), float(connect_timeout), float(read_timeout))


class MultiDecoder:
    """Decodes sources into channel ``channel`` with FFmpeg, one thread per stream.

    Frames arrive as images (``format``, default ``"bgr24"``) with ``stream`` = the id that
    ``add_stream`` returned, ``frame`` counting the frames the stream handed to the channel and
    ``pts`` in microseconds; a finished stream sends its end-of-stream marker, whose ``frame``
    is the number of ids the stream used. A frame the channel's drop policy discards keeps its id,
    so a reader sees it as a gap. The channel options are those of :class:`framebus.Producer`.
    ``FRAMEBUS_FFMPEG_LOG`` (``quiet`` ... ``debug``, ``trace``) in the environment sets FFmpeg's
    log level when a decoder is created.

    A decoder dropped without :meth:`close` (``del``, or still open at interpreter exit, also in a
    ``multiprocessing`` child) is closed then: its streams stop and it leaves its channels, which
    takes at most about twice ``linger`` when no consumer takes the streams' last frames.
    """

    def __init__(self, channel: str, *, slots: int = 16, slot_size: Union[int, str] = "8MiB", policy: str = "block",
                 mode: int = 0o600, groups: Optional[Sequence[str]] = None, block_timeout: Optional[float] = None,
                 linger: float = 10.0) -> None:
        if not hasattr(_core, "_MultiDecoder"):
            raise Closed("this framebus was built without the decoder module (FFmpeg)")
        self._core = _core._MultiDecoder(channel, int(slots), parse_size(slot_size), int(mode), policy,
                                         list(groups or []), block_timeout, float(linger))
        self._pid = os.getpid()
        _exit.track(self)

    def add_stream(self, source: str, *, loop: Optional[int] = 1, frame_skip: int = 0, max_fps: float = 0.0,
                   realtime: bool = False, reconnect: bool = False, max_reconnects: int = 0, threads: int = 0,
                   format: str = "bgr24", width: int = 0, height: int = 0, connect_timeout: float = 5.0,
                   read_timeout: float = 5.0, max_decode_errors: int = 0, channel: Optional[str] = None) -> int:
        """Starts decoding ``source`` (file, URL, image folder or glob); returns its stream id.

        ``loop`` is the number of passes (``None`` or ``0`` loops forever until
        :meth:`remove_stream`, :meth:`stop` or :meth:`close`; ids and pts go on across passes);
        ``frame_skip`` keeps one frame in N+1; ``max_fps`` caps the rate and ``realtime`` paces a
        file at its own rate; ``threads`` sets the decoder's threads (0: FFmpeg decides; negative
        raises :class:`InvalidArgument`); ``reconnect`` reopens a lost network source with
        backoff, at most ``max_reconnects`` times (0: forever). ``channel`` publishes this
        stream into a channel of its own (created or joined now with the decoder's channel
        options, open until :meth:`close`) instead of the decoder's channel, so an unread stream
        fills only its own slots and never stalls the others.
        """
        return self._core.add_stream(source, channel=channel, loop=loop, frame_skip=frame_skip, max_fps=max_fps, realtime=realtime,
                                     reconnect=reconnect, max_reconnects=max_reconnects, threads=threads,
                                     format=format, width=width, height=height, connect_timeout=connect_timeout,
                                     read_timeout=read_timeout, max_decode_errors=max_decode_errors)

    def remove_stream(self, stream: int) -> None:
        """Stops a stream (its end-of-stream marker is sent) and forgets it: ``status`` and
        ``remove_stream`` of its id then raise :class:`NotFound`. Blocks until the stream's
        thread has ended, which may wait for a consumer to make room for the marker."""
        self._core.remove_stream(stream)

    def status(self, stream: int) -> dict:
        """channel, state ('opening', 'running', 'reconnecting', 'eof', 'error', 'stopped'), message,
        native_fps, width, height, decoded, published, dropped, skipped, decode_errors,
        reconnects, passes, last_error, finished. Raises :class:`NotFound` (a
        ``FileNotFoundError``) for an unknown or removed stream, :class:`Closed` after close."""
        return self._core.status(stream)

    def statuses(self) -> list[dict]:
        """The status of every stream not removed, by id."""
        return self._core.statuses()

    def wait(self, timeout: Optional[float] = None, *, stream: Optional[int] = None) -> bool:
        """Waits until every stream (or ``stream``) has finished; False if ``timeout`` passed."""
        return self._core.wait(timeout, stream)

    def stop(self) -> None:
        """Stops every stream (state ``stopped``, each sends its end-of-stream marker) and waits
        for their threads; the decoder stays open for new streams."""
        self._core.stop()

    def close(self) -> None:
        """Stops every stream and leaves the channel (consumers then see its end). Every other
        method then raises :class:`Closed`; closing again does nothing."""
        _exit.untrack(self)
        self._core.close()

    def _close_at_exit(self) -> None:
        # Inherited through os.fork: the decoder's threads and channels are the parent's.
        if self._pid == os.getpid():
            self.close()

    @property
    def channel(self) -> str:
        return self._core.channel

    def __enter__(self) -> "MultiDecoder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
