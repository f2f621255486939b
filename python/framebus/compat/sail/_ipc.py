"""sail.IPC on framebus channels: sail's sender/receiver pipe pair as one shared-memory channel.

sail's IPC moves a BMImage or Tensor from one process to another through a named pipe and
returns a signal through a second one; this module keeps its calls, keyword names, defaults and
return values, and carries the frames in a framebus channel instead::

    ipc = sail.IPC(True, "/tmp/img_pipe", "/tmp/final_pipe", False, 20)     # sender
    ipc.sendBMImage(img, channel_id, frame_id)

    ipc = sail.IPC(False, "/tmp/img_pipe", "/tmp/final_pipe", True, 10)     # receiver
    img, channel_id, frame_id = ipc.receiveBMImage()

``pipe_path`` names the channel (see :func:`channel_name`); ``final_path`` is not needed (slots
come back through shared memory). The sender's ``queue_len`` is the channel's number of slots:
how many frames may wait for the receivers. The frames wait in the channel, not in a receiver,
so every receiver of one pipe takes the next frame when it is ready (each frame goes to exactly
one) and a receiver that stops loses none; the receiver's ``queue_len`` is how many frames it
may hold in shared memory at once (zero-copy tensors it keeps, beyond which it gets copies). A
receiver killed before its next ``receive*`` or ``close`` has the frames it holds given to
another receiver. Every call, its sail meaning and each deliberate difference: docs/sail.md.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import weakref
from typing import Any, Optional, Tuple, Union

import numpy as np

from ... import _exit
from ..._endpoints import Consumer, Message, Producer
from ..._errors import Closed, InvalidArgument
from ._pixels import layout
from ._types import BMImage, Format, Handle, ImgDtype, Tensor, from_framebus_format, to_framebus_format

__all__ = ["IPC", "channel_name"]

_GROUP = "sail"
# The user metadata of a frame sent with sendBMImage: sail's Format and ImgDtype of the image and
# its height and width, so that the receiver rebuilds it exactly (also formats framebus has no
# image name for, and YUV ones, whose framebus view is flat).
_IMAGE_META = struct.Struct("<4siiii")
_IMAGE_MAGIC = b"sail"


def channel_name(pipe_path: str) -> str:
    """The framebus channel name that ``pipe_path`` maps to: ``"sail." +`` the path with every
    character outside letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    if not isinstance(pipe_path, str) or not pipe_path:
        raise InvalidArgument(f"pipe_path must be a non-empty string, not {pipe_path!r}")
    name = "sail." + re.sub(r"[^A-Za-z0-9._-]", "_", pipe_path.strip("/"))
    return name[:200]


def _flag(value: Any, argument: str) -> bool:
    # A string such as "False" is truthy: refused rather than read as True.
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise InvalidArgument(f"{argument} must be True or False, not {value!r}")


def _ident(value: Any, argument: str, limit: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
        raise InvalidArgument(f"{argument} must be an int, 0 <= {argument} < 2**{limit.bit_length() - 1}, "
                              f"not {value!r}")
    return int(value)


def _ids(channel_id: Any, frame_id: Any) -> Tuple[int, int]:
    return _ident(channel_id, "channel_id", 2**32), _ident(frame_id, "frame_id", 2**63)


class IPC:
    """sail.IPC(isSender_, pipe_path, final_path, usec2c=False, queue_len=20).

    framebus options, keyword-only: ``slot_size`` (the largest frame, sender), ``wait`` (seconds a
    receiver waits for the sender's channel; None: forever, as sail's receiver waits).
    ``is_sender`` is accepted for ``isSender_``. One IPC may be used from several threads."""

    def __init__(self, isSender_: Any = None, pipe_path: Optional[str] = None, final_path: Optional[str] = None,
                 usec2c: bool = False, queue_len: int = 20, *, is_sender: Any = None,
                 slot_size: Union[int, str] = "8MiB", wait: Optional[float] = None) -> None:
        if (isSender_ is None) == (is_sender is None):
            raise InvalidArgument("give isSender_ once (True: this end sends, False: it receives)")
        self.isSender_ = _flag(isSender_ if isSender_ is not None else is_sender, "isSender_")
        self.channel = channel_name(pipe_path)  # checks pipe_path
        if final_path is not None and not isinstance(final_path, str):
            raise InvalidArgument(f"final_path must be a string (framebus does not use it), not {final_path!r}")
        if isinstance(queue_len, bool) or not isinstance(queue_len, (int, np.integer)) or queue_len <= 0:
            raise InvalidArgument(f"queue_len must be an int > 0 (sail's default is 20), not {queue_len!r}")
        self.pipe_path = pipe_path
        self.final_path = final_path
        self.usec2c = _flag(usec2c, "usec2c")
        self.queue_len = int(queue_len)
        self._options = dict(slot_size=slot_size, wait=wait)
        self._tx: Optional[Producer] = None
        self._rx: Optional[Consumer] = None
        self._lock = threading.Lock()  # one thread at a time inside the consumer
        self._held: dict = {}  # thread id -> the Message its last receive* returned, until its next
        self._views: list = []  # weak references to the zero-copy arrays handed out
        self._closed = False
        if self.isSender_:
            self._tx = Producer(self.channel, slots=self.queue_len, slot_size=slot_size, groups=[_GROUP])
        else:
            self._rx = Consumer(self.channel, group=_GROUP, wait=wait)
        self._pid = os.getpid()
        _exit.track(self)

    @property
    def is_sender(self) -> bool:
        return self.isSender_

    # -- sending ---------------------------------------------------------------------------------
    def _sender(self, call: str) -> Producer:
        if self._tx is None:
            raise InvalidArgument(f"{call}: this IPC receives (isSender_=False); create it with isSender_=True to send")
        return self._tx

    def sendBMImage(self, img: Any, channel_id: int, frame_id: int) -> None:
        """Sends ``img`` (a sail.BMImage, or a ``(H, W, 3)`` BGR / ``(H, W)`` gray uint8 array) as
        frame ``frame_id`` of ``channel_id``. Returns once the frame is queued (sail: once received)."""
        tx = self._sender("sendBMImage")
        stream, frame = _ids(channel_id, frame_id)
        if isinstance(img, BMImage):
            array = img._array
            if array.size == 0:
                raise InvalidArgument("sendBMImage: img is an empty BMImage; fill it first (Decoder.read, Bmcv)")
            fmt, dtype = Format(img.format()), ImgDtype(img.dtype())
        elif isinstance(img, np.ndarray):
            if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
                raise InvalidArgument(
                    f"sendBMImage: an array image is (H, W, 3) BGR or (H, W) gray uint8, not {img.dtype} "
                    f"{img.shape}; convert it (e.g. .astype(np.uint8)) or send it with sendTensor")
            array = img
            fmt = Format.FORMAT_BGR_PACKED if img.ndim == 3 else Format.FORMAT_GRAY
            dtype = ImgDtype.DATA_TYPE_EXT_1N_BYTE
        else:
            hint = "; send a sail.Tensor with sendTensor" if isinstance(img, Tensor) else ""
            raise InvalidArgument(f"sendBMImage: img must be a sail.BMImage or a uint8 image array, "
                                  f"not {type(img).__name__}{hint}")
        if isinstance(img, BMImage):
            h, w = img.height(), img.width()
        else:
            h, w = img.shape[:2]
        meta = _IMAGE_META.pack(_IMAGE_MAGIC, int(fmt), int(dtype), h, w)
        tx.send(array, stream=stream, frame=frame, format=to_framebus_format(fmt), user_meta=meta)

    def sendTensor(self, tensor: Any, channel_id: int, frame_id: int) -> None:
        """Sends ``tensor`` (a sail.Tensor, or a NumPy array of any dtype and shape) as frame
        ``frame_id`` of ``channel_id``. Returns once the frame is queued (sail: once received)."""
        tx = self._sender("sendTensor")
        stream, frame = _ids(channel_id, frame_id)
        if isinstance(tensor, Tensor):
            array = tensor.asnumpy()
        elif isinstance(tensor, np.ndarray):
            array = tensor
        else:
            hint = "; send a sail.BMImage with sendBMImage" if isinstance(tensor, BMImage) else ""
            raise InvalidArgument(f"sendTensor: tensor must be a sail.Tensor or a NumPy array, "
                                  f"not {type(tensor).__name__}{hint}")
        try:
            _tensor(array[:0] if array.ndim else array.reshape(1)[:0])  # a dtype a sail.Tensor can hold
        except InvalidArgument as error:
            raise InvalidArgument(f"sendTensor: {error}; convert it (e.g. .astype(np.float32))") from None
        tx.send(array, stream=stream, frame=frame)

    # -- receiving -------------------------------------------------------------------------------
    def _receive(self, call: str) -> Message:
        if self._rx is None:
            raise InvalidArgument(f"{call}: this IPC sends (isSender_=True); create it with isSender_=False to receive")
        if self._closed:
            raise Closed(f"{call}: the IPC of pipe '{self.pipe_path}' is closed")
        me = threading.get_ident()
        with self._lock:
            if self._pid != os.getpid():
                # Inherited through fork: the parent's frames stay the parent's (releasing them
                # here would do nothing); the consumer opens this process's own registration.
                self._pid, self._held, self._views = os.getpid(), {}, []
            previous = self._held.pop(me, None)
            if previous is not None:
                previous.release()  # the caller is done with the frame it had: now it counts as received
            while True:
                message = self._rx.receive(None)  # raises EndOfChannel at the end
                if message is None:
                    continue
                if message.end_of_stream:  # a framebus decoder's marker: sail has none
                    message.release()
                    continue
                self._held[me] = message
                return message

    def receiveBMImage(self) -> Tuple[BMImage, int, int]:
        """Waits for the next image: ``(BMImage, channel_id, frame_id)``. The image is the
        receiver's own (a copy): drawing on it changes what no other receiver sees. Raises
        :class:`framebus.EndOfChannel` once the sender closed and every frame was received."""
        message = self._receive("receiveBMImage")
        user = message.user_meta
        if len(user) == _IMAGE_META.size and user[:4] == _IMAGE_MAGIC:
            _, fmt, _, h, w = _IMAGE_META.unpack(user)
            fmt = Format(fmt)
            pixels = message.copy()
            return BMImage._from_array(pixels.reshape(layout(fmt, h, w)), fmt), message.stream, message.frame
        if message.format is None:
            raise InvalidArgument(
                f"receiveBMImage: frame {message.frame} of channel {message.stream} was sent as a tensor "
                f"({message.array.dtype} {message.array.shape}), not an image; receive it with receiveTensor")
        # An image a framebus producer or decoder sent: its format and size travel with it.
        fmt = from_framebus_format(message.format)
        pixels = message.copy().reshape(layout(fmt, message.height, message.width))
        return BMImage._from_array(pixels, fmt), message.stream, message.frame

    def receiveTensor(self) -> Tuple[Tensor, int, int]:
        """Waits for the next frame: ``(Tensor, channel_id, frame_id)``. Without ``usec2c`` the
        tensor's data is a read-only view of shared memory (no copy) that keeps its slot until
        dropped, while this receiver holds fewer than ``queue_len`` such views; otherwise (and
        with ``usec2c``) it is the receiver's own copy. Raises :class:`framebus.EndOfChannel` at
        the end."""
        message = self._receive("receiveTensor")
        if not self.usec2c:
            with self._lock:
                self._views = [view for view in self._views if view() is not None]
                if len(self._views) < self.queue_len:
                    array = message.array
                    self._views.append(weakref.ref(array))
                    return _tensor(array), message.stream, message.frame
        return _tensor(message.copy()), message.stream, message.frame

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Leaves the pipe: a sender's queued frames stay for the receivers; a receiver gives
        back the frame it holds (zero-copy tensors keep their slots until dropped)."""
        if self._closed:
            return
        self._closed = True
        _exit.untrack(self)
        for handle in (self._tx, self._rx):
            if handle is not None:
                handle.close()  # wakes a receive waiting in another thread
        with self._lock:
            held, self._held = self._held, {}
        if self._pid == os.getpid():
            for message in held.values():
                message.release()

    def _close_at_exit(self) -> None:
        self.close()

    def __enter__(self) -> "IPC":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __reduce__(self):
        return (_restore, (self.isSender_, self.pipe_path, self.final_path, self.usec2c, self.queue_len,
                           dict(self._options)))

    def __repr__(self) -> str:
        side = "sender" if self.isSender_ else "receiver"
        return f"<sail.IPC {side} of pipe {self.pipe_path!r} (channel {self.channel!r})>"


_HANDLE = Handle(0)  # framebus has one memory: a received tensor's handle only names device 0


def _tensor(array: np.ndarray) -> Tensor:
    return Tensor._from_array(_HANDLE, array)


def _restore(is_sender: bool, pipe_path: str, final_path: Optional[str], usec2c: bool, queue_len: int,
             options: dict) -> IPC:
    return IPC(is_sender, pipe_path, final_path, usec2c, queue_len, **options)
