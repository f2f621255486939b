"""Drop-in replacement for sophon-sail's ``IPC`` class, on framebus channels.

Port a script by changing its import::

    # import sophon.sail as sail
    from framebus.compat import sail

    ipc = sail.IPC(True, "/tmp/img_pipe", "/tmp/final_pipe", False, 20)   # sender
    ipc.sendBMImage(img, channel_id, frame_id)

    ipc = sail.IPC(False, "/tmp/img_pipe", "/tmp/final_pipe")            # receiver
    img, channel_id, frame_id = ipc.receiveBMImage()

Mapping (sail argument -> framebus):

==================  ==========================================================================
``is_sender``       True: a ``Producer``; False: a ``Consumer``.
``pipe_path``       names the channel: ``"sail." +`` the path with every character outside
                    letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``. No file is made
                    at that path.
``final_path``      kept for compatibility; framebus needs no second pipe (slots are returned
                    through shared memory).
``usec2c``          True: receive returns a private copy and the slot is freed at once ("copy to
                    CPU"). False: ``receiveTensor`` is zero copy, a read-only array that holds
                    its slot until dropped. ``receiveBMImage`` always returns a private
                    writable image: sail's BMImage belongs to the caller, who draws on it.
``queue_len``       the number of slots (frames in flight).
images, tensors     NumPy arrays (BGR images as ``(H, W, 3)`` uint8).
==================  ==========================================================================

Unlike sail: a receiver started before the sender waits for it; several receivers on one pipe
share the frames (each frame goes to one of them); a crash of either side leaves nothing behind
and loses no frame; ``send*`` returns as soon as the frame is queued. At the end of the stream
``receive*`` raises :class:`framebus.EndOfChannel`.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Tuple, Union

import numpy as np

from ..._endpoints import Consumer, Producer
from ..._errors import InvalidArgument

_GROUP = "sail"


def channel_name(pipe_path: str) -> str:
    """The framebus channel name that ``pipe_path`` maps to."""
    if not isinstance(pipe_path, str) or not pipe_path:
        raise InvalidArgument(f"pipe_path must be a non-empty string, not {pipe_path!r}")
    name = "sail." + re.sub(r"[^A-Za-z0-9._-]", "_", pipe_path.strip("/"))
    return name[:200]


class IPC:
    """sail.IPC(is_sender, pipe_path, final_path, usec2c=False, queue_len=20)."""

    def __init__(self, is_sender: bool, pipe_path: str, final_path: str, usec2c: bool = False, queue_len: int = 20,
                 *, slot_size: Union[int, str] = "8MiB", wait: Optional[float] = None) -> None:
        if not isinstance(queue_len, int) or queue_len <= 0:
            raise InvalidArgument(f"queue_len must be a positive int, not {queue_len!r}")
        self.is_sender = bool(is_sender)
        self.pipe_path = pipe_path
        self.final_path = final_path
        self.usec2c = bool(usec2c)
        self.queue_len = queue_len
        self._options = dict(slot_size=slot_size, wait=wait)
        self.channel = channel_name(pipe_path)
        self._tx: Optional[Producer] = None
        self._rx: Optional[Consumer] = None
        if self.is_sender:
            self._tx = Producer(self.channel, slots=queue_len, slot_size=slot_size, groups=[_GROUP])
        else:
            self._rx = Consumer(self.channel, group=_GROUP, wait=wait)

    # -- sending ---------------------------------------------------------------------------------
    def _sender(self) -> Producer:
        if self._tx is None:
            raise InvalidArgument("this IPC was created as a receiver (is_sender=False)")
        return self._tx

    def sendTensor(self, tensor: Any, channel_id: int, frame_id: int) -> None:
        """Sends an array (any dtype and shape) for ``channel_id`` as frame ``frame_id``."""
        self._sender().send(np.asarray(tensor), stream=int(channel_id), frame=int(frame_id))

    def sendBMImage(self, image: Any, channel_id: int, frame_id: int) -> None:
        """Sends an image: a ``(H, W, 3)`` BGR or ``(H, W)`` gray uint8 array."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise InvalidArgument(f"an image is a (H, W, 3) or (H, W) uint8 array, not {image.dtype} {image.shape}")
        fmt = "bgr24" if image.ndim == 3 else "gray8"
        self._sender().send(image, stream=int(channel_id), frame=int(frame_id), format=fmt)

    # -- receiving -------------------------------------------------------------------------------
    def _receive(self, private: bool) -> Tuple[np.ndarray, int, int]:
        if self._rx is None:
            raise InvalidArgument("this IPC was created as a sender (is_sender=True)")
        while True:
            message = self._rx.receive(None)  # raises EndOfChannel at the end
            if message is None or message.end_of_stream:
                continue
            channel_id, frame_id = message.stream, message.frame
            if private or self.usec2c:
                array = message.copy()  # writable, C-contiguous, the caller's own
                message.release()
            else:
                array = message.array
            return array, channel_id, frame_id

    def receiveTensor(self) -> Tuple[np.ndarray, int, int]:
        """Waits for the next frame: ``(tensor, channel_id, frame_id)``; zero copy (read-only)
        unless ``usec2c``."""
        return self._receive(False)

    def receiveBMImage(self) -> Tuple[np.ndarray, int, int]:
        """Waits for the next image: ``(image, channel_id, frame_id)``. The image is a private,
        writable copy, as sail's BMImage is the caller's to draw on (OpenCV ignores NumPy's
        read-only flag: drawing on a view of shared memory crashes)."""
        return self._receive(True)

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Closes the channel end (a sender waits for its frames to be taken first)."""
        for handle in (self._tx, self._rx):
            if handle is not None:
                handle.close()

    def __enter__(self) -> "IPC":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __reduce__(self):
        return (_restore, (self.is_sender, self.pipe_path, self.final_path, self.usec2c, self.queue_len, self._options))


def _restore(is_sender: bool, pipe_path: str, final_path: str, usec2c: bool, queue_len: int, options: dict) -> IPC:
    return IPC(is_sender, pipe_path, final_path, usec2c, queue_len, **options)
