"""sail's ``MultiDecoder`` on framebus: every sail channel is a source decoded by its own framebus
decoder into its own channel (``_decoder.Source``), so one unread channel never stalls another.

sail's behaviour kept: a channel decodes in the background into a queue of ``queue_size`` frames
and restarts its file (or reconnects its stream) at the end, for ever; a full queue drops the new
frame (``discard_mode`` 0) or the oldest queued one (any other value) and counts it; with the
local flag set (``set_local_flag(True)``) channels added afterwards decode at most 25 frames a
second; ``read_mode`` 0 takes a queued frame or returns at once, any other value waits up to the
read timeout (10 s unless ``set_read_timeout``). Channel indices count up from 0 and are never
reused.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from typing import Dict, List, Optional, TypeVar, Union

from ... import _exit
from ..._endpoints import inspect_channel
from ..._errors import Error, InvalidArgument
from ._base import int_arg
from ._types import BMImage, Format, bm_image
from . import _decoder as _d

log = logging.getLogger("framebus.compat.sail")

_T = TypeVar("_T")
_LOCAL_FPS = 25.0  # sail's local flag: "fixed decoding of 25 frames per second per channel"


class DecoderStatus(enum.IntEnum):
    """sail.DecoderStatus: the state of a MultiDecoder channel (``get_channel_status``)."""

    NONE = 0
    OPENED = 1
    CLOSED = 2
    STATUS_MAX = 3

    def __str__(self) -> str:
        return f"DecoderStatus.{self.name}"


class _Channel:
    """One sail channel: its source and the parameters to reopen it with."""

    def __init__(self, path: str, frame_skip: int, queue_size: int, policy: str, max_fps: float) -> None:
        self.path, self.frame_skip, self.queue_size, self.policy, self.max_fps = \
            path, frame_skip, queue_size, policy, max_fps
        self.lock = threading.Lock()  # one reader at a time per channel
        self.dropped_before = 0
        self.source = self._open()

    def _open(self) -> _d.Source:
        return _d.Source(self.path, slots=self.queue_size, policy=self.policy, loop=None,
                         frame_skip=self.frame_skip, max_fps=self.max_fps)

    def dropped(self) -> int:
        # The group's count covers both policies: a new frame discarded and an old one pushed out.
        for group in inspect_channel(self.source.channel)["groups"]:
            if group["name"] == _d._GROUP:
                return int(group["dropped"])
        return 0

    def reopen(self) -> None:
        old = self.source
        self.source = self._open()
        self.dropped_before = 0
        old.close()


class MultiDecoder(_d.ReleasedWhenDropped):
    """sail.MultiDecoder: several videos or streams decoded in the background, read per channel.

    Frames come as FORMAT_BGR_PLANAR (pictures as FORMAT_BGR_PACKED), as sail's decoder gives
    them; ``read`` replaces the image passed in, as sail does. ``tpu_id`` has no effect.
    ``release()`` (or dropping the object) stops every channel.
    """

    def __init__(self, queue_size: int = 10, tpu_id: int = 0, discard_mode: int = 0) -> None:
        self._queue_size = int_arg(queue_size, "queue_size", 1)
        self._tpu_id = int_arg(tpu_id, "tpu_id")
        self._discard_mode = int_arg(discard_mode, "discard_mode")
        self._timeout = 10.0
        self._local = False
        self._channels: Dict[int, _Channel] = {}
        self._next_index = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        _exit.track(self)

    # -- channels ---------------------------------------------------------------------------------

    def add_channel(self, file_path: str, frame_skip_num: int = 0) -> int:
        """Starts decoding ``file_path`` (a file, picture or URL); returns its channel index.
        Raises SailDecoderError (a RuntimeError) naming the path if it cannot be opened."""
        path = _d.path_arg(file_path)
        skip = int_arg(frame_skip_num, "frame_skip_num")
        policy = "drop_newest" if self._discard_mode == 0 else "drop_oldest"
        channel = _Channel(path, skip, self._queue_size, policy, _LOCAL_FPS if self._local else 0.0)
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self._channels[index] = channel
        log.info("sail.MultiDecoder: added '%s' as channel %d", path, index)
        return index

    def del_channel(self, channel_idx: int) -> int:
        """Stops and removes a channel: 0, or 1 if there is no such channel."""
        with self._lock:
            channel = self._channels.pop(self._index(channel_idx), None)
        if channel is None:
            return self._unknown(channel_idx, "del_channel", 1)
        channel.source.close()
        return 0

    def _index(self, channel_idx: object) -> int:
        return int_arg(channel_idx, "channel_idx", minimum=-2**63)

    def _get(self, channel_idx: object) -> Optional[_Channel]:
        index = self._index(channel_idx)
        with self._lock:
            return self._channels.get(index)

    def _unknown(self, channel_idx: object, call: str, result: _T) -> _T:
        # sail's answer for a bad index is a status value; the warning says what went wrong.
        with self._lock:
            known = sorted(self._channels)
        log.warning("sail.MultiDecoder.%s: channel_idx %s is not a channel of this decoder (channels: %s)",
                    call, channel_idx, known)
        return result

    def _need(self, channel_idx: object, call: str) -> _Channel:
        # For the calls where sail has no status to return (it would crash on a bad index).
        channel = self._get(channel_idx)
        if channel is None:
            with self._lock:
                known = sorted(self._channels)
            raise InvalidArgument(f"MultiDecoder.{call}: channel_idx {channel_idx} is not a channel of this "
                                  f"decoder; use an index add_channel returned and del_channel did not remove "
                                  f"(channels: {known})")
        return channel

    # -- reading ----------------------------------------------------------------------------------

    def read(self, channel_idx: int, image: Optional[BMImage] = None, read_mode: int = 0) -> Union[int, BMImage]:
        """``read(channel_idx, image, read_mode=0)``: 0 with the oldest queued frame in ``image``;
        1 if none came (read_mode 0: at once; else within the read timeout); -1 for an unknown or
        closed channel. ``read(channel_idx)``: the frame as a new BMImage, waiting up to the
        read timeout (an empty BMImage if none came)."""
        if image is None:
            out = BMImage()
            self._read(channel_idx, out, 1, "read")
            return out
        return self._read(channel_idx, _d.image_arg(image, BMImage), read_mode, "read")

    def read_(self, channel_idx: int, image: Optional[bm_image] = None, read_mode: int = 0) -> Union[int, bm_image]:
        """As ``read``, into a bm_image; ``read_(channel_idx)`` returns the bm_image."""
        if image is None:
            out = BMImage()
            self._read(channel_idx, out, 1, "read_")
            return out.data()
        return self._read(channel_idx, _d.image_arg(image, bm_image), read_mode, "read_")

    def _read(self, channel_idx: int, image: Union[BMImage, bm_image], read_mode: int, call: str) -> int:
        wait = int_arg(read_mode, "read_mode") != 0
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, call, -1)
        with channel.lock:
            source = channel.source
            if source.ended:
                log.warning("sail.MultiDecoder.%s: channel %s ('%s') is closed", call, channel_idx, channel.path)
                return -1 if wait else 1  # sail: an empty queue (1), or -1 when waiting on a closed channel
            msg = source.next(self._timeout if wait else 0.0)
            if msg is None:
                return -1 if source.ended else 1
            try:
                _d.fill(image, msg.array, Format.FORMAT_BGR_PACKED if _d.is_picture(channel.path)
                        else Format.FORMAT_BGR_PLANAR, keep_geometry=False)
            finally:
                msg.release()
        return 0

    def clear_queue(self, channel_idx: int) -> int:
        """Drops every queued frame of a channel: 0, or 1 if there is no such channel."""
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, "clear_queue", 1)
        with channel.lock:
            channel.source.drain()
        return 0

    def set_read_timeout(self, timeout: int) -> None:
        """How long ``read`` with a non-zero read_mode waits for a frame, in seconds."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidArgument(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        self._timeout = float(timeout)

    def set_local_flag(self, flag: bool) -> None:
        """True: channels added from now on decode at most 25 frames a second (sail's pacing for
        local files); False: as fast as the queue takes them."""
        self._local = bool(flag)

    # -- channel facts ----------------------------------------------------------------------------

    def get_channel_fps(self, channel_idx: int) -> float:
        """The source's frame rate (1.0 for an unknown channel, as sail)."""
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, "get_channel_fps", 1.0)
        return channel.source.fps if not _d.is_picture(channel.path) else -1.0

    def get_frame_shape(self, channel_idx: int) -> List[int]:
        """[1, 3, height, width] of the channel's frames ([] for an unknown channel, as sail)."""
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, "get_frame_shape", [])
        return [1, 3, channel.source.height, channel.source.width]

    def get_drop_num(self, channel_idx: int) -> int:
        """Frames the full queue dropped since the channel started, ``reset_drop_num`` or
        ``reconnect``."""
        channel = self._need(channel_idx, "get_drop_num")
        try:
            return max(0, channel.dropped() - channel.dropped_before)
        except Error:  # the channel was deleted meanwhile
            return 0

    def reset_drop_num(self, channel_idx: int) -> None:
        channel = self._need(channel_idx, "reset_drop_num")
        channel.dropped_before = channel.dropped()

    def get_channel_status(self, channel_idx: int) -> DecoderStatus:
        """OPENED while the channel decodes, CLOSED once its source failed for good, NONE for an
        unknown channel."""
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, "get_channel_status", DecoderStatus.NONE)
        try:
            finished = channel.source.status()["finished"]
        except Error:
            finished = True
        return DecoderStatus.CLOSED if finished or channel.source.ended else DecoderStatus.OPENED

    def reconnect(self, channel_idx: int) -> int:
        """Reopens a channel's source from its start and zeroes its drop count: 0, or 1 if there
        is no such channel. Raises SailDecoderError if the source cannot be opened again."""
        channel = self._get(channel_idx)
        if channel is None:
            return self._unknown(channel_idx, "reconnect", 1)
        with channel.lock:
            channel.reopen()
        return 0

    # -- lifetime ---------------------------------------------------------------------------------

    def release(self) -> None:
        """Stops and removes every channel (sail does this when the object is destroyed)."""
        _exit.untrack(self)
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        if self._pid != os.getpid():
            return  # inherited through fork: the channels are the parent's
        for channel in channels:
            channel.source.close()

    def __repr__(self) -> str:
        return f"<sail.MultiDecoder {len(self._channels)} channel(s), queue_size {self._queue_size}>"


__all__ = ["MultiDecoder", "DecoderStatus"]
