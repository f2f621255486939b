"""Producer and Consumer: the Python face of framebus channels.

Both are context managers, pickle to their name and options (so they can be passed to
``multiprocessing.Process`` under every start method), and reopen their own registration when
used in a forked child. Handles still open when a process exits normally (``multiprocessing``
children included) are closed then, so the last participant never leaves its channel behind.

A handle may be closed from any thread, also while other threads wait inside it (``receive()``,
iteration, a blocked ``send()`` or ``loan()``): their calls raise :class:`Closed`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from . import _args, _core, _exit, _fork
from ._errors import Closed, EndOfChannel, InvalidArgument, LingerExpired, LingerExpiredWarning
from ._sizes import parse_size

Message = _core.Message

GroupsArg = Union[None, Iterable[Union[str, Sequence[Optional[str]]]], Mapping[str, Optional[str]]]


def _normalise_groups(groups: GroupsArg) -> list[tuple[str, Optional[str]]]:
    if groups is None:
        return []
    if isinstance(groups, Mapping):
        return [(str(name), policy) for name, policy in groups.items()]
    out: list[tuple[str, Optional[str]]] = []
    for group in groups:
        if isinstance(group, str):
            out.append((group, None))
        else:
            name, policy = group
            out.append((str(name), policy))
    return out


def _deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    # stacklevel 3: the warning points at the user's call, not at this module (one more when
    # called through a helper of the public method).
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=stacklevel)


def _renamed_message_fields(frame: int, user_meta: bytes, frame_id: Optional[int],
                            meta: Optional[bytes]) -> tuple[int, bytes]:
    # `frame` and `user_meta` are the names C++ and the CLI use; the older keywords still work for
    # one release. Giving both names of one field is refused rather than guessed.
    if frame_id is not None:
        if frame != 0:
            raise InvalidArgument("give the frame number once, as frame= (frame_id= is its deprecated name)")
        _deprecated("frame_id=", "frame=", stacklevel=4)
        frame = frame_id
    if meta is not None:
        if user_meta != b"":
            raise InvalidArgument("give the user metadata once, as user_meta= (meta= is its deprecated name)")
        _deprecated("meta=", "user_meta=", stacklevel=4)
        user_meta = meta
    return frame, user_meta


def _numpy_dtype(dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise InvalidArgument(f"unknown dtype {dtype!r}") from error


def _normalise_owners(owners: Optional[Iterable[int]]) -> list[int]:
    # A list, so that pickling the options and the C++ side both get plain ints.
    if owners is None:
        return []
    if isinstance(owners, (str, bytes)) or not isinstance(owners, Iterable):
        raise InvalidArgument(f"trusted_owners must be a list of uids, not {owners!r}")
    out = []
    for uid in owners:
        if isinstance(uid, bool) or not isinstance(uid, int) or not 0 <= uid < 2**32:
            raise InvalidArgument(f"trusted_owners must hold uids (0 <= uid < 2**32), not {uid!r}")
        out.append(int(uid))
    return out


def _restore(cls: type, name: str, options: dict) -> Any:
    return cls(name, **options)


class _Handle:
    """Shared plumbing: lazy reopen after fork, closing, pickling."""

    _core_handle: Any

    def __init__(self, name: str, options: dict) -> None:
        _core.validate_name(name)
        self._name = name
        self._options = options
        self._core_handle = None
        self._closed = False
        self._open()

    def _open(self) -> None:
        raise NotImplementedError

    @property
    def _h(self) -> Any:
        if self._closed:
            raise Closed(f"{type(self).__name__} of channel '{self._name}' is closed")
        if self._generation != _fork.generation():
            # Inherited through fork: the parent's registration stays the parent's.
            self._open()
        return self._core_handle

    @property
    def name(self) -> str:
        """The channel's name."""
        return self._name

    @property
    def closed(self) -> bool:
        return self._closed

    def _track(self) -> None:
        """Called by ``_open``: the new registration is closed at exit if still open then."""
        self._generation = _fork.generation()
        _exit.track(self)

    def close(self) -> None:
        """Closes the handle; calls that other threads are waiting in raise :class:`Closed`."""
        if self._closed:
            return
        handle, self._core_handle = self._core_handle, None
        self._closed = True
        _exit.untrack(self)
        if handle is not None and self._generation == _fork.generation():
            self._closed_report(handle.close())

    def _closed_report(self, report: Any) -> None:
        """What the native close() reported; producers turn discarded messages into a warning."""

    def _close_at_exit(self) -> None:
        # A handle inherited through os.fork and never used here is the parent's to close.
        if not self._closed and self._generation == _fork.generation():
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __reduce__(self):
        return (_restore, (type(self), self._name, dict(self._options)))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<framebus.{type(self).__name__} {self._name!r} {state}>"


class Producer(_Handle):
    """Creates or joins channel ``name`` and publishes messages into it.

    ``slots`` messages can be in flight (loaned, queued or held) at once, each up to
    ``slot_size`` bytes (an int or a string such as ``"8MiB"``). ``policy`` is what happens when a
    group has no room: ``"block"`` (wait, up to ``block_timeout`` seconds; ``None`` waits
    forever), ``"drop_oldest"`` or ``"drop_newest"``. ``groups`` declares consumer groups that
    exist from the first message (names, ``(name, policy)`` pairs, or a dict). Messages stay
    deliverable to every group that has a live member after ``close()``, which does not wait for
    them; it waits up to ``linger`` seconds only for groups without a live member, then discards
    what they did not take with a ``LingerExpiredWarning`` naming the count (``strict=True``:
    raises ``LingerExpired``).
    An existing channel of that name owned by another user is refused (PermissionDenied) unless
    its uid is in ``trusted_owners``. ``group_grace`` is how long a group nobody declared waits
    for a new member after its last member died before it is removed with its queue.
    """

    def __init__(self, name: str, *, slots: int = 16, slot_size: Union[int, str] = "8MiB", policy: str = "block",
                 mode: int = 0o600, groups: GroupsArg = None, block_timeout: Optional[float] = None,
                 linger: float = 10.0, strict: bool = False, trusted_owners: Optional[Iterable[int]] = None,
                 group_grace: float = 5.0) -> None:
        _args.text(name, "name")
        slots = _args.integer(slots, "slots", 1, 2**32)
        mode = _args.integer(mode, "mode", 0, 0o10000)
        block_timeout = _args.seconds(block_timeout, "block_timeout")
        linger = _args.seconds(linger, "linger", none_ok=False)
        group_grace = _args.seconds(group_grace, "group_grace", none_ok=False)
        options = dict(slots=slots, slot_size=slot_size, policy=policy, mode=mode,
                       groups=_normalise_groups(groups), block_timeout=block_timeout, linger=linger,
                       strict=strict, trusted_owners=_normalise_owners(trusted_owners), group_grace=group_grace)
        super().__init__(name, options)

    def _closed_report(self, report: Any) -> None:
        # [(group, count), ...]: messages the linger discarded, queued for groups without a live
        # member. Never silent: a warning, or an error under strict=True.
        discarded = {group: count for group, count in (report or []) if count}
        if not discarded:
            return
        total = sum(discarded.values())
        where = ", ".join(f"{count} for group '{group}'" if group else f"{count} that no group had joined for"
                          for group, count in discarded.items())
        text = (f"closing channel '{self._name}' discarded {total} message(s) when the linger of "
                f"{self._options['linger']} s ran out: {where} (those groups had no live member)")
        if self._options.get("strict"):
            error = LingerExpired(text)
            error.discarded = discarded
            raise error
        warnings.warn(text, LingerExpiredWarning, stacklevel=3)

    def _open(self) -> None:
        o = self._options
        self._core_handle = _core._Producer(self._name, int(o["slots"]), parse_size(o["slot_size"]), int(o["mode"]),
                                            o["policy"], o["groups"], o["block_timeout"], float(o["linger"]),
                                            o["trusted_owners"], float(o.get("group_grace", 5.0)))
        self._track()

    @property
    def slot_count(self) -> int:
        return self._h.slot_count

    @property
    def slot_size(self) -> int:
        return self._h.slot_size

    def send(self, data: Any, *, stream: int = 0, frame: int = 0, pts: int = 0, user_meta: bytes = b"", flags: int = 0,
             format: Optional[str] = None, dtype: Any = None, shape: Optional[Sequence[int]] = None,
             frame_id: Optional[int] = None, meta: Optional[bytes] = None) -> None:
        """Copies ``data`` (a NumPy array or any buffer) into a slot and publishes it.

        A NumPy array travels with its dtype and shape; with ``format`` (``"bgr24"``, ``"rgb24"``,
        ``"gray8"``, ``"nv12"``, ``"yuv420p"``) it is an image. Blocks per the policy when full.
        """
        frame, user_meta = _renamed_message_fields(frame, user_meta, frame_id, meta)
        stream, frame, pts, user_meta, flags = _args.message_fields(stream, frame, pts, user_meta, flags)
        if isinstance(data, np.ndarray):
            if not data.flags.c_contiguous:
                data = np.ascontiguousarray(data)
            if shape is None:
                shape = data.shape
            if dtype is None and format is None:
                dtype = data.dtype.name
            elif dtype is None:
                dtype = data.dtype.name
        if dtype is not None and not isinstance(dtype, str):
            dtype = _numpy_dtype(dtype).name
        self._h.send(data, stream, frame, pts, flags, user_meta,
                     (dtype, None if shape is None else [int(s) for s in shape], format))

    def loan(self, shape: Union[int, Sequence[int]], dtype: Any = "uint8", *, format: Optional[str] = None) -> "LoanArray":
        """Borrows a slot as a writable NumPy array of ``shape`` and ``dtype`` in shared memory.

        Fill it (a decoder can write straight into it), then call ``publish()`` on it: no copy is
        made. Used as a context manager, an unpublished loan is given back at the end.
        """
        dt = _numpy_dtype(dtype)
        dims = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if any(d < 0 for d in dims):
            raise InvalidArgument(f"shape {dims} has a negative dimension")
        if format is not None:
            _core._check_image(format, dt.name, list(dims))  # a wrong picture fails here, not at publish()
        count = math.prod(dims)
        loan = self._h.loan(count * dt.itemsize)
        array = np.frombuffer(loan, dtype=dt, count=count).reshape(dims).view(LoanArray)
        array._loan = loan
        array._producer = self
        array._format = format
        return array

    def end_stream(self, stream: int, frame_count: int = 0) -> None:
        """Delivers an end-of-stream marker for ``stream`` to every group (never dropped).

        The marker's ``frame`` is ``frame_count``, the number of frames the stream numbered, so
        that a reader can tell which frames it never received."""
        self._h.end_stream(_args.integer(stream, "stream", 0, 2**32), _args.integer(frame_count, "frame_count", 0, 2**64))


class LoanArray(np.ndarray):
    """A writable NumPy array inside a channel slot, returned by ``Producer.loan``."""

    _loan: Any = None
    _producer: Optional[Producer] = None
    _format: Optional[str] = None

    def __array_finalize__(self, obj: Any) -> None:
        # Views and slices of a loan are plain memory views: only the loan itself publishes.
        self._loan = None
        self._producer = None
        self._format = None

    @property
    def discarded(self) -> bool:
        """True when the drop policy already discarded this message: publishing only counts it."""
        return self._loan is not None and self._loan.discarded

    def publish(self, *, stream: int = 0, frame: int = 0, pts: int = 0, user_meta: bytes = b"", flags: int = 0,
                frame_id: Optional[int] = None, meta: Optional[bytes] = None) -> None:
        """Hands the slot to the consumers without copying. The array becomes read-only."""
        frame, user_meta = _renamed_message_fields(frame, user_meta, frame_id, meta)
        stream, frame, pts, user_meta, flags = _args.message_fields(stream, frame, pts, user_meta, flags)
        if self._loan is None or self._producer is None or not self._loan.valid:
            raise Closed("only an unpublished loan from Producer.loan() can be published")
        self._producer._h.publish(self._loan, stream, frame, pts, flags, user_meta,
                                  (self.dtype.name, list(self.shape), self._format))
        self.flags.writeable = False

    def drop(self) -> None:
        """Gives the slot back without publishing."""
        if self._loan is not None and self._loan.valid:
            self._loan.drop()
            self.flags.writeable = False

    def __enter__(self) -> "LoanArray":
        return self

    def __exit__(self, *exc_info) -> None:
        self.drop()


class Consumer(_Handle):
    """Joins channel ``name`` as a member of ``group``.

    Each group receives every message; consumers of one group share its messages (each goes to
    exactly one of them, in publish order per stream). ``wait`` is how long to wait for the
    channel to be created (seconds; ``None`` waits forever). Iterating yields messages until the
    channel ends (then ``end_reason`` is ``"closed"`` or ``"producer_died"``).

    ``writable=True`` is for code that draws on frames: every received message is made private at
    once, its ``array`` a writable copy owned by the process (one copy per message) and its slot
    given back to the channel straight away. By default ``array`` is a read-only view of shared
    memory; ``Message.copy()`` makes a private copy of one message.

    Closing the consumer from another thread wakes a ``receive()`` or iteration waiting in it,
    which raises :class:`Closed` (iteration too: it did not reach the end of the channel).

    A channel owned by another user is refused (PermissionDenied) unless its uid is in
    ``trusted_owners``. ``max_deliveries`` (if this consumer creates the group): a message whose
    consumers died holding it that many times is given up as a dead letter (0: no limit).
    """

    def __init__(self, name: str, *, group: str = "default", wait: Optional[float] = 0.0,
                 policy: Optional[str] = None, writable: bool = False,
                 trusted_owners: Optional[Iterable[int]] = None, max_deliveries: int = 3) -> None:
        _args.text(name, "name")
        _args.text(group, "group")
        wait = _args.seconds(wait, "wait")
        max_deliveries = _args.integer(max_deliveries, "max_deliveries", 0, 2**32)
        options = dict(group=group, wait=wait, policy=policy, writable=bool(writable),
                       trusted_owners=_normalise_owners(trusted_owners), max_deliveries=int(max_deliveries))
        self._end_reason = "none"
        super().__init__(name, options)

    def _open(self) -> None:
        o = self._options
        wait = 1e18 if o["wait"] is None else float(o["wait"])
        self._core_handle = _core._Consumer(self._name, o["group"], o["policy"], wait, o["trusted_owners"],
                                            int(o.get("max_deliveries", 3)))
        self._track()

    @property
    def group(self) -> str:
        return self._options["group"]

    @property
    def writable(self) -> bool:
        """True when every received message is a private writable copy."""
        return self._options["writable"]

    @property
    def end_reason(self) -> str:
        """"none" while the channel runs, then "closed" or "producer_died"."""
        return self._end_reason

    def receive(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The group's next message, or None after ``timeout`` seconds (None: wait forever).

        Raises EndOfChannel (ProducerDied when the last producer died) once the channel ended,
        and Closed when the consumer is closed, also by another thread while this one waits.
        """
        timeout = _args.seconds(timeout, "timeout")
        try:
            message = self._h.receive(timeout)
        except EndOfChannel as end:
            self._end_reason = end.reason
            raise
        if message is not None and self._options["writable"]:
            message._detach()
        return message

    def __iter__(self) -> Iterator[Message]:
        """Messages until the end of the channel; raises :class:`Closed` if the consumer is closed
        meanwhile (by another thread), since the channel's end was not reached."""
        while True:
            try:
                message = self.receive(None)
            except EndOfChannel:
                return
            if message is not None:
                yield message


def list_channels() -> list[dict]:
    """Every channel on this host with its participants, groups and counters (as ``framebus list``)."""
    return _core.list_channels()


def inspect_channel(name: str) -> dict:
    """One channel, as ``list_channels()`` describes it (as ``framebus inspect NAME``)."""
    return _core.inspect_channel(name)


def remove_channel(name: str) -> None:
    """Unlinks a channel (processes that have it open keep working). As ``framebus remove NAME``."""
    _core.remove_channel(name)


def remove_group(name: str, group: str) -> int:
    """Removes consumer group ``group`` of channel ``name`` and releases its queue (refused while
    it has a live member); returns how many messages were released. As ``framebus remove --group``."""
    return _core.remove_group(name, group)


def collect_garbage() -> list[str]:
    """Removes channels whose participants are all dead; returns their names. As
    ``framebus collect-garbage``."""
    return _core.collect_garbage()


# The names before the C++, Python and CLI vocabularies were made one; kept for one release.
def channels() -> list[dict]:
    """Deprecated name of :func:`list_channels`."""
    _deprecated("framebus.channels()", "framebus.list_channels()")
    return list_channels()


def inspect(name: str) -> dict:
    """Deprecated name of :func:`inspect_channel`."""
    _deprecated("framebus.inspect()", "framebus.inspect_channel()")
    return inspect_channel(name)


def remove(name: str) -> None:
    """Deprecated name of :func:`remove_channel`."""
    _deprecated("framebus.remove()", "framebus.remove_channel()")
    remove_channel(name)


def gc() -> list[str]:
    """Deprecated name of :func:`collect_garbage`."""
    _deprecated("framebus.gc()", "framebus.collect_garbage()")
    return collect_garbage()
