"""Host hooks in Python: storage, transport, clock and events.

Hooks are given to :class:`stockguard.Log` as Python objects or callables:

* ``storage``: an object with ``write(entry)``, ``remove(integration, sku)``
  and optionally ``load(sink)``; ``load`` calls ``sink(entry)`` once per
  stored entry (an :class:`~stockguard.entry.Entry` or its encoded bytes).
  ``write``/``remove`` succeed by returning (``None``/True) and fail by
  raising or returning ``False``.  A store with transactions also has
  ``begin()``, ``commit()`` and ``rollback()`` (all three, or none; the same
  success/failure convention; raising :class:`~stockguard.errors.Fenced`
  says another instance owns the data now, and the log stops writing and
  sending for good; ``rollback`` runs even after an exception
  stopped the call, since it is the clean-up): the log then groups the
  writes of each batch call into one commit, see
  :meth:`stockguard.Log.transaction`.  :class:`MemoryStorage` is a ready one.
* ``transport``: a callable ``send(job) -> Result | None`` or an object with
  ``send(job)`` and optionally ``send_batch(jobs) -> list of Result`` (used
  when the integration's batch size is above 1: one Python call per batch).
  ``None`` (or ``None`` for the whole batch) means OK and costs no write.
* ``clock``: a callable returning milliseconds since the epoch, or an object
  with ``now_ms()``.  :class:`ManualClock` is a fake clock for tests.
* ``events``: a callable ``on_event(event)`` or an object with ``on_event``.

**Exceptions inside a hook** are caught at the C boundary (C never sees a
Python exception) and the first one is re-raised when the log call
returns; when the C call failed too, its
:class:`~stockguard.errors.StockguardError` becomes the exception's
``__cause__``, and the call's progress (``sent``, ``done`` ...) is put on
both.  Only storage and transport exceptions stop the rest of the call:
the hook reports failure to the library (non-zero; the sink-refusal code
is passed back as is), which leaves the log as it was, and the later
storage and transport hooks of that call fail without running.  The clock
and events hooks cannot fail in C: a raising clock reads as its last good
time (or the system clock) and a raising event handler is skipped; the
call goes on as if they had not raised, and their exception is raised
when it returns.
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

from . import _native as N
from ._util import from_c, i32, i64, to_c
from .entry import Entry, decode, encode
from .enums import ErrorClass, EventType, JobFlag, Outcome, Priority, Status, Table, coerce
from .errors import Fenced, StockguardError


class Job(NamedTuple):
    """One export handed to the transport (``stg_job``).

    A named tuple (it was a frozen dataclass: same fields, order and
    constructor), built once per job handed out, so it is kept light.
    """

    id: int              #: give it to :meth:`Log.complete` for async outcomes
    integration: str
    sku: str
    published: int       #: the quantity to publish
    available: int       #: the available quantity it came from
    changed_at: int      #: time of the newest change the job carries
    attempt: int         #: 1 for the first try
    priority: Priority
    flags: JobFlag

    @property
    def non_stock(self) -> bool:
        """A non-stock field changed too: send the full offer."""
        return bool(self.flags & JobFlag.NON_STOCK)

    @property
    def min_stock_reached(self) -> bool:
        """The minimum forced this quantity to 0."""
        return bool(self.flags & JobFlag.MIN_STOCK_REACHED)

    @classmethod
    def _from_c(cls, j: N.stg_job) -> "Job":
        return _job(_JOB.struct.unpack(ctypes.string_at(ctypes.addressof(j), _JOB.size)))


_JOB = N.LAYOUTS["stg_job"]
_job_fields = _JOB.pick("id", "integration", "sku", "published", "available", "changed_at",
                        "attempt", "priority", "flags")
_PRIORITIES, _JOB_FLAGS = Table(Priority), Table(JobFlag)
_new_tuple = tuple.__new__
_string_at = ctypes.string_at


def _job(raw: tuple) -> Job:
    """A Job from an unpacked ``stg_job`` (its texts copied now)."""
    jid, ip, sp, pub, avail, changed, attempt, prio, flags = _job_fields(raw)
    return _new_tuple(Job, (jid, _string_at(ip).decode("utf-8", "surrogateescape"),
                            _string_at(sp).decode("utf-8", "surrogateescape"), pub, avail,
                            changed, attempt, _PRIORITIES[prio], _JOB_FLAGS[flags]))


@dataclass(frozen=True)
class Result:
    """What became of a job (``stg_job_result``), returned by a transport.

    Use the constructors: ``Result.ok()``, ``Result.error(http_status,
    message, error_class=ErrorClass.NONE, retry_after_ms=0)`` (class NONE:
    let the library classify the HTTP status) and ``Result.pending()`` (the
    host completes it later with :meth:`Log.complete`).

    ``ok()`` and ``error()`` also take the quota the marketplace announced
    in its response headers (``quota_limit`` requests per
    ``quota_window_ms``, 0: per second; ``quota_remaining`` left in the
    window, -1: not said; ``quota_reset_ms`` until it renews): the
    integration's rate limit then follows it (``stg_job_result`` version 2).
    """

    outcome: Outcome = Outcome.OK
    error_class: ErrorClass = ErrorClass.NONE
    http_status: int = 0
    message: Optional[str] = None
    retry_after_ms: int = 0
    quota_limit: int = 0
    quota_window_ms: int = 0
    quota_remaining: int = -1
    quota_reset_ms: int = 0

    def __post_init__(self) -> None:
        # Checked here, not when a pump meets it: a name such as "transient"
        # becomes its ErrorClass; other types and values out of range raise
        # now.  Unknown integers pass (a newer library may know them).
        cls = type(self)
        _setattr = object.__setattr__
        _setattr(self, "outcome", cls._enum(self.outcome, Outcome, "outcome"))
        _setattr(self, "error_class", cls._enum(self.error_class, ErrorClass, "error_class"))
        i32(self.http_status, "http_status")
        i64(self.retry_after_ms, "retry_after_ms")
        # The ranges of hooks.h, checked now (the library would take a bad
        # quota from a transport as a broken result).
        if i64(self.quota_limit, "quota_limit") < 0:
            raise ValueError("quota_limit must be >= 0 (0: not announced), not %d" % self.quota_limit)
        for name in ("quota_window_ms", "quota_reset_ms"):
            v = i64(getattr(self, name), name)
            if not 0 <= v <= 86400000:
                raise ValueError("%s must be 0 to 86400000, not %d" % (name, v))
        if i64(self.quota_remaining, "quota_remaining") < -1:
            raise ValueError("quota_remaining must be >= -1 (-1: not announced), not %d"
                             % self.quota_remaining)
        if self.message is not None and not isinstance(self.message, (str, bytes)):
            raise TypeError("message must be a str, bytes or None, not %s"
                            % type(self.message).__name__)
        to_c(self.message, "message")

    @staticmethod
    def _enum(value: Any, cls: Any, what: str) -> Any:
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError("unknown %s %r (one of %s)" % (
                    what, value, ", ".join(m.name.lower() for m in cls))) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("%s must be a %s, its name or an int, not %s"
                            % (what, cls.__name__, type(value).__name__))
        i32(value, what)
        return coerce(cls, value)

    @classmethod
    def ok(cls, http_status: int = 0, *, quota_limit: int = 0, quota_window_ms: int = 0,
           quota_remaining: int = -1, quota_reset_ms: int = 0) -> "Result":
        """The marketplace acknowledged the quantity."""
        if http_status == 0 and (quota_limit, quota_window_ms, quota_remaining,
                                 quota_reset_ms) == (0, 0, -1, 0):
            return _OK
        return cls(Outcome.OK, ErrorClass.NONE, http_status, None, 0, quota_limit,
                   quota_window_ms, quota_remaining, quota_reset_ms)

    @classmethod
    def error(cls, http_status: int = 0, message: Optional[str] = None,
              error_class: Union[ErrorClass, int, str] = ErrorClass.NONE,
              retry_after_ms: int = 0, *, quota_limit: int = 0, quota_window_ms: int = 0,
              quota_remaining: int = -1, quota_reset_ms: int = 0) -> "Result":
        """The marketplace refused the quantity or did not answer.

        ``error_class`` is an :class:`ErrorClass`, its name (``"transient"``)
        or an int; NONE lets the library classify ``http_status``.  It is
        checked here: a wrong one raises now, not at pump time.  A 429
        (rate limited) cools down the integration's whole limit scope for
        ``retry_after_ms`` (see :meth:`Log.set_limit_scope`).
        """
        return cls(Outcome.ERROR, error_class, http_status, message,  # type: ignore
                   retry_after_ms, quota_limit, quota_window_ms, quota_remaining,
                   quota_reset_ms)

    @classmethod
    def pending(cls) -> "Result":
        """Asynchronous: complete it later with :meth:`Log.complete`."""
        return _PENDING

    def _fill(self, r: N.stg_job_result, keep: List[Any]) -> None:
        r.version = N.RESULT_VERSION
        r.outcome = self.outcome
        r.error_class = self.error_class
        r.http_status = self.http_status
        msg = to_c(self.message, "message")
        keep.append(msg)  # the log copies the message after the hook returns
        r.message = msg
        r.retry_after_ms = self.retry_after_ms
        r.quota_limit = self.quota_limit
        r.quota_window_ms = self.quota_window_ms
        r.quota_remaining = self.quota_remaining
        r.quota_reset_ms = self.quota_reset_ms


#: Shared instances (a Result is immutable): the common answers cost nothing.
_OK = Result()
_PENDING = Result(Outcome.ASYNC)


@dataclass(frozen=True)
class Event:
    """One event (``stg_event``)."""

    type: EventType
    integration: str
    sku: Optional[str] = None       #: None for integration events
    message: Optional[str] = None   #: the marketplace's message
    http_status: int = 0            #: for a pause caused by a failure
    available: int = 0              #: MIN_STOCK_REACHED: the available quantity
    min_stock: int = 0              #: MIN_STOCK_REACHED: the minimum that applied
    latency_ms: int = 0             #: ABNORMAL_LATENCY: change-to-ack time
    time: int = 0                   #: when, ms since the epoch

    @classmethod
    def _from_c(cls, ev: N.stg_event) -> "Event":
        return cls(coerce(EventType, ev.type), from_c(ev.integration) or "",  # type: ignore
                   from_c(ev.sku), from_c(ev.message), ev.http_status, ev.available,
                   ev.min_stock, ev.latency_ms, ev.time)

    @classmethod
    def _from_address(cls, address: int) -> "Event":
        return cls._from_c(N.stg_event.from_address(address))


class ManualClock:
    """A fake clock for tests: starts at ``start`` ms and moves only when told."""

    def __init__(self, start: int = 1_000_000) -> None:
        self.now = int(start)

    def now_ms(self) -> int:
        """The current fake time."""
        return self.now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` and return the new time."""
        self.now += int(ms)
        return self.now


@dataclass(frozen=True)
class IntegrationState:
    """What a storage keeps of one integration beyond its entries
    (``stg_integration_state``): today, a pause made with :meth:`Log.pause`.

    A storage object with ``write_integration(state)`` and
    ``load_integrations(sink)`` (both, or neither) keeps these, and a
    manual pause then survives a reopen; ``load_integrations`` calls
    ``sink(state)`` for each stored one.
    """

    integration: str
    paused: bool = False
    updated_at: int = 0   #: when the log wrote it, ms since the epoch


class MemoryStorage:
    """A storage hook keeping encoded entries in a dict (a reference
    implementation of the storage protocol, and durable across
    :class:`~stockguard.Log` instances that share it).

    ``entries`` maps ``(integration, sku)`` to the bytes of
    :func:`stockguard.entry.encode`.  For tests of a host's error handling:
    set ``fail_writes``/``fail_removes`` to make every write/remove fail from
    now on, or call :meth:`fail_next_writes`/:meth:`fail_next_removes` to
    make only the next ``n`` fail.  ``writes``/``removes`` count the ones
    that succeeded, ``failed_writes``/``failed_removes`` those refused.

    It has transactions (``begin``/``commit``/``rollback``: a copy of
    ``entries`` taken at ``begin`` is put back by ``rollback``), which cost
    a dict copy per transaction; ``MemoryStorage(transactions=False)``
    leaves them out (each write is then its own commit, as a version-1
    store).  :meth:`fail_next_commits` makes the next ``n`` commits fail;
    ``begins``/``commits``/``rollbacks`` count the calls that succeeded.

    ``integrations`` maps an integration to its stored record (the pause
    made with :meth:`Log.pause`: :class:`IntegrationState`), so a manual
    pause survives a new :class:`~stockguard.Log` on the same storage.
    """

    def __init__(self, transactions: bool = True) -> None:
        self.entries: Dict[Tuple[str, str], bytes] = {}
        self.begins = 0
        self.commits = 0
        self.rollbacks = 0
        self._saved: Optional[Dict[Tuple[str, str], bytes]] = None
        self._commit_faults = 0
        if not transactions:
            # An instance attribute of None hides the methods from the log.
            self.begin = self.commit = self.rollback = None  # type: ignore[assignment]
        self.integrations: Dict[str, "IntegrationState"] = {}
        self.fail_writes = False
        self.fail_removes = False
        self.writes = 0
        self.removes = 0
        self.failed_writes = 0
        self.failed_removes = 0
        self._write_faults = 0
        self._remove_faults = 0

    def fail_next_writes(self, n: int = 1) -> None:
        """Make the next ``n`` writes fail, then succeed again (0 cancels)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError("n must be an int >= 0, not %r" % (n,))
        self._write_faults = n

    def fail_next_removes(self, n: int = 1) -> None:
        """Make the next ``n`` removes fail, then succeed again (0 cancels)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError("n must be an int >= 0, not %r" % (n,))
        self._remove_faults = n

    def fail_next_commits(self, n: int = 1) -> None:
        """Make the next ``n`` commits fail, then succeed again (0 cancels)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError("n must be an int >= 0, not %r" % (n,))
        self._commit_faults = n

    def begin(self) -> bool:
        if self._saved is not None:
            raise RuntimeError("MemoryStorage: begin inside an open transaction")
        self._saved = dict(self.entries)
        self.begins += 1
        return True

    def commit(self) -> bool:
        if self._saved is None:
            raise RuntimeError("MemoryStorage: commit without begin")
        if self._fault(False, "_commit_faults"):
            return False
        self._saved = None
        self.commits += 1
        return True

    def rollback(self) -> bool:
        if self._saved is not None:
            self.entries = self._saved
            self._saved = None
        self.rollbacks += 1
        return True

    def _fault(self, always: bool, counter: str) -> bool:
        left = getattr(self, counter)
        if left:
            setattr(self, counter, left - 1)
            return True
        return always

    def load(self, sink: Callable[[Union[Entry, bytes]], None]) -> None:
        for data in list(self.entries.values()):
            sink(data)

    def write(self, entry: Entry) -> bool:
        if self._fault(self.fail_writes, "_write_faults"):
            self.failed_writes += 1
            return False
        self.entries[(entry.integration, entry.sku)] = encode(entry)
        self.writes += 1
        return True

    def remove(self, integration: str, sku: str) -> bool:
        if self._fault(self.fail_removes, "_remove_faults"):
            self.failed_removes += 1
            return False
        self.entries.pop((integration, sku), None)
        self.removes += 1
        return True

    def write_integration(self, state: "IntegrationState") -> bool:
        if self._fault(self.fail_writes, "_write_faults"):
            self.failed_writes += 1
            return False
        self.integrations[state.integration] = state
        self.writes += 1
        return True

    def load_integrations(self, sink: Callable[["IntegrationState"], None]) -> None:
        for state in list(self.integrations.values()):
            sink(state)

    def get(self, integration: str, sku: str) -> Optional[Entry]:
        """The stored entry of (integration, sku), decoded, or None."""
        data = self.entries.get((integration, sku))
        return decode(data) if data is not None else None

    def __len__(self) -> int:
        return len(self.entries)


class _SinkRefused(StockguardError):
    """Raised inside a storage ``load`` when the log refuses a stored entry."""


def _storage_rc(exc: BaseException) -> int:
    """What a storage hook that raised tells C: the lost-ownership code for
    :class:`~stockguard.errors.Fenced` (the log then stops writing), else a
    plain failure."""
    return int(Status.EFENCED) if isinstance(exc, Fenced) else -1


def _method(obj: Any, name: str, what: str, required: bool = True) -> Optional[Callable]:
    fn = getattr(obj, name, None)
    if fn is None and not required:
        return None
    if not callable(fn):
        raise TypeError("%s needs a callable %s()" % (what, name))
    return fn


def _pick(obj: Any, name: str, what: str) -> Callable:
    """``obj.name`` when the object has it, else ``obj`` itself when callable."""
    fn = getattr(obj, name, None)
    if callable(fn):
        return fn
    if callable(obj):
        return obj
    raise TypeError("%s must be callable or have a %s() method" % (what, name))


class HookSet:
    """The C hook structs of one log and the Python objects behind them.

    Owned by the :class:`~stockguard.Log`; keeps every CFUNCTYPE object
    referenced for as long as the log lives, and records the first exception
    a hook raised during the current C call (see the module docs).  Only a
    storage or transport exception stops the rest of the call (``stopped``):
    the later storage and transport hooks of that call then fail without
    running.  A clock or event exception is recorded and the call goes on.
    """

    def __init__(self) -> None:
        self.pending: Optional[BaseException] = None
        self.stopped = False
        self.keep: List[Any] = []   # objects C borrows until the current call returns
        self.refs: Dict[str, Any] = {}  # CFUNCTYPE objects and structs, by role
        self.storage: Optional[N.stg_storage] = None
        self.transport: Optional[N.stg_transport] = None
        self.clock: Optional[N.stg_clock] = None
        self.events: Optional[N.stg_events] = None
        self._last_time: Optional[int] = None

    # ------------------------------------------------------------ bookkeeping
    def _fail(self, exc: BaseException, stop: bool) -> None:
        if self.pending is None:
            self.pending = exc
        if stop:
            self.stopped = True

    def take(self) -> Optional[BaseException]:
        """The pending exception (cleared), and forget borrowed objects."""
        exc, self.pending = self.pending, None
        self.stopped = False
        if self.keep:
            del self.keep[:]
        return exc

    def clear(self) -> None:
        """Drop every hook (after the log is closed: C calls none of them any
        more).  Breaks the reference cycle between this object and its
        trampolines, so hooks are freed at once rather than by the GC."""
        self.refs.clear()
        del self.keep[:]
        self.storage = self.transport = self.clock = self.events = None

    # ------------------------------------------------------------ storage
    def set_storage(self, obj: Any) -> None:
        load = _method(obj, "load", "storage", required=False)
        write = _method(obj, "write", "storage")
        remove = _method(obj, "remove", "storage")

        def c_load(sink_addr: int, sink_ctx: int, payload: int) -> int:
            sink_fn = N.ENTRY_SINK_FN(sink_addr)
            refused: List[int] = []

            def sink(item: Union[Entry, bytes, bytearray, memoryview]) -> None:
                if refused:
                    raise _SinkRefused(refused[0], "the log refused an earlier entry")
                if isinstance(item, Entry):
                    e = item._to_c()
                elif isinstance(item, (bytes, bytearray, memoryview)):
                    raw = bytes(item)
                    e = N.stg_entry()
                    # Bad bytes raise Corrupt/Truncated here: a failure of the load
                    # itself, re-raised after stg_log_open() returns.
                    N.lib.stg_entry_decode(raw, len(raw), ctypes.byref(e))
                else:
                    raise TypeError("storage load: sink() takes an Entry or bytes, not %s"
                                    % type(item).__name__)
                rc = sink_fn(sink_ctx, ctypes.byref(e))
                if rc:
                    refused.append(rc)
                    raise _SinkRefused(rc, "the log refused a stored entry")

            if self.stopped:
                return -1
            try:
                load(sink)  # type: ignore[misc]
            except _SinkRefused as exc:
                if not refused:  # raised by the host itself: treat as its exception
                    self._fail(exc, True)
                    return -1
            except BaseException as exc:  # noqa: B902 - must not cross into C
                self._fail(exc, True)
                return refused[0] if refused else -1
            return refused[0] if refused else 0

        def c_write(entry_addr: int, payload: int) -> int:
            if self.stopped:
                return -1
            try:
                ok = write(Entry._from_address(entry_addr))
            except BaseException as exc:
                self._fail(exc, True)
                return _storage_rc(exc)
            return -1 if ok is False else 0

        def c_remove(integration: bytes, sku: bytes, payload: int) -> int:
            if self.stopped:
                return -1
            try:
                ok = remove(from_c(integration), from_c(sku))
            except BaseException as exc:
                self._fail(exc, True)
                return _storage_rc(exc)
            return -1 if ok is False else 0

        txn = [_method(obj, name, "storage", required=False)
               for name in ("begin", "commit", "rollback")]
        if any(f is not None for f in txn) and not all(f is not None for f in txn):
            raise TypeError("storage: begin, commit and rollback go together (%s has only %s)"
                            % (type(obj).__name__,
                               ", ".join(n for n, f in zip(("begin", "commit", "rollback"), txn)
                                         if f is not None)))

        def txn_call(fn: Callable[[], Any], cleanup: bool) -> Callable[[int], int]:
            def c_fn(payload: int) -> int:
                # A rollback is the clean-up of a call that failed: it runs
                # even after a storage exception stopped the call.
                if self.stopped and not cleanup:
                    return -1
                try:
                    ok = fn()
                except BaseException as exc:
                    self._fail(exc, True)
                    return _storage_rc(exc)
                return -1 if ok is False else 0
            return c_fn

        s = N.stg_storage()
        N.lib.stg_storage_init(ctypes.byref(s), N.STORAGE_VERSION)
        refs = {"storage.write": N.STORAGE_WRITE_FN(c_write),
                "storage.remove": N.STORAGE_REMOVE_FN(c_remove)}
        s.write = refs["storage.write"]
        s.remove = refs["storage.remove"]
        if txn[0] is not None:
            for name, fn in zip(("begin", "commit", "rollback"), txn):
                refs["storage." + name] = N.STORAGE_TXN_FN(txn_call(fn, name == "rollback"))  # type: ignore[arg-type]
                setattr(s, name, refs["storage." + name])
        self._integration_records(obj, s, refs)
        if load is not None:
            refs["storage.load"] = N.STORAGE_LOAD_FN(c_load)
            s.load = refs["storage.load"]
        self.refs.update(refs)
        self.refs["storage.obj"] = obj
        self.storage = s

    def _integration_records(self, obj: Any, s: N.stg_storage, refs: Dict[str, Any]) -> None:
        """The version-2 storage functions, when ``obj`` has both."""
        write = _method(obj, "write_integration", "storage", required=False)
        load = _method(obj, "load_integrations", "storage", required=False)
        if (write is None) != (load is None):
            raise TypeError("storage: write_integration and load_integrations go together "
                            "(one without the other)")
        if write is None:
            return

        def c_write(state_addr: int, payload: int) -> int:
            if self.stopped:
                return -1
            try:
                st = N.stg_integration_state.from_address(state_addr)
                ok = write(IntegrationState(from_c(st.integration) or "",  # type: ignore[misc]
                                            bool(st.flags & N.INTEGRATION_PAUSED), st.updated_at))
            except BaseException as exc:  # noqa: B902 - must not cross into C
                self._fail(exc, True)
                return _storage_rc(exc)
            return -1 if ok is False else 0

        def c_load(sink_addr: int, sink_ctx: int, payload: int) -> int:
            sink_fn = N.INTEGRATION_SINK_FN(sink_addr)
            refused: List[int] = []

            def sink(state: IntegrationState) -> None:
                if not isinstance(state, IntegrationState):
                    raise TypeError("storage load_integrations: sink() takes an "
                                    "IntegrationState, not %s" % type(state).__name__)
                c = N.stg_integration_state()
                N.lib.stg_integration_state_init(ctypes.byref(c), N.INTEGRATION_STATE_VERSION)
                name = to_c(state.integration, "integration")
                c.integration = name
                c.flags = N.INTEGRATION_PAUSED if state.paused else 0
                c.updated_at = state.updated_at
                rc = sink_fn(sink_ctx, ctypes.byref(c))
                if rc:
                    refused.append(rc)
                    raise _SinkRefused(rc, "the log refused a stored integration record")

            if self.stopped:
                return -1
            try:
                load(sink)  # type: ignore[misc]
            except _SinkRefused:
                if not refused:
                    return -1
            except BaseException as exc:  # noqa: B902 - must not cross into C
                self._fail(exc, True)
                return refused[0] if refused else -1
            return refused[0] if refused else 0

        refs["storage.write_integration"] = N.STORAGE_WRITE_INTEGRATION_FN(c_write)
        refs["storage.load_integrations"] = N.STORAGE_LOAD_INTEGRATIONS_FN(c_load)
        s.write_integration = refs["storage.write_integration"]
        s.load_integrations = refs["storage.load_integrations"]

    # ------------------------------------------------------------ transport
    def make_transport(self, obj: Any) -> Tuple[N.stg_transport, Dict[str, Any]]:
        """Build (without installing) a transport struct for ``obj``.

        The log pre-fills each result as OK (``stg_result_init``), so a
        transport answering ``None``, ``True`` or ``Result.ok()`` costs no
        write at all; other results are written in place.
        """
        send = _pick(obj, "send", "transport")
        send_batch = _method(obj, "send_batch", "transport", required=False)
        keep = self.keep

        def fill(result: Any, address: int) -> None:
            if result is None or result is True or result is _OK:
                return
            if isinstance(result, Outcome):
                result = Result(result)
            elif not isinstance(result, Result):
                raise TypeError("transport must return a stockguard.Result, an Outcome or "
                                "None, not %s" % type(result).__name__)
            result._fill(N.stg_job_result.from_address(address), keep)

        def c_send(job_addr: int, result_addr: int, payload: int) -> int:
            if self.stopped:
                return -1
            try:
                r = send(_job_at(job_addr))
                if r is not None and r is not _OK:
                    fill(r, result_addr)
            except BaseException as exc:
                self._fail(exc, True)
                return -1
            return 0

        def c_send_batch(jobs_addr: int, n: int, results_addr: int, payload: int) -> int:
            if self.stopped:
                return -1
            try:
                jobs = _jobs_at(jobs_addr, n)
                results = send_batch(jobs)  # type: ignore[misc]
                if results is not None:
                    results = list(results)
                    if len(results) != n:
                        raise ValueError("transport send_batch returned %d results for %d "
                                         "jobs" % (len(results), n))
                    for i, res in enumerate(results):
                        fill(res, results_addr + i * _RESULT_SIZE)
            except BaseException as exc:
                self._fail(exc, True)
                return -1
            return 0

        t = N.stg_transport()
        N.lib.stg_transport_init(ctypes.byref(t), N.TRANSPORT_VERSION)
        refs: Dict[str, Any] = {"transport.send": N.SEND_FN(c_send), "transport.obj": obj}
        t.send = refs["transport.send"]
        if send_batch is not None:
            refs["transport.send_batch"] = N.SEND_BATCH_FN(c_send_batch)
            t.send_batch = refs["transport.send_batch"]
        return t, refs

    def set_transport(self, t: N.stg_transport, refs: Dict[str, Any]) -> None:
        """Install a struct built by :meth:`make_transport` (after C accepted it)."""
        for k in [k for k in self.refs if k.startswith("transport.")]:
            del self.refs[k]
        self.refs.update(refs)
        self.transport = t

    # ------------------------------------------------------------ clock
    def set_clock(self, obj: Any) -> None:
        now = _pick(obj, "now_ms", "clock")

        def c_now(payload: int) -> int:
            # A raising clock cannot fail the C call: it reads as its last
            # good time (the system clock before any), the exception is
            # raised when the call returns, and the call goes on.
            try:
                t = i64(now(), "clock")
                self._last_time = t
                return t
            except BaseException as exc:
                self._fail(exc, False)
            if self._last_time is not None:
                return self._last_time
            return int(time.time() * 1000)

        c = N.stg_clock()
        N.lib.stg_clock_init(ctypes.byref(c), N.CLOCK_VERSION)
        self.refs["clock.now_ms"] = N.NOW_FN(c_now)
        self.refs["clock.obj"] = obj
        c.now_ms = self.refs["clock.now_ms"]
        self.clock = c

    # ------------------------------------------------------------ events
    def set_events(self, obj: Any) -> None:
        on_event = _pick(obj, "on_event", "events")

        def c_event(event_addr: int, payload: int) -> None:
            # An event handler cannot fail the C call: a raising one is
            # recorded, later events of the call are still delivered.
            try:
                on_event(Event._from_address(event_addr))
            except BaseException as exc:
                self._fail(exc, False)

        ev = N.stg_events()
        N.lib.stg_events_init(ctypes.byref(ev), N.EVENTS_VERSION)
        self.refs["events.on_event"] = N.EVENT_FN(c_event)
        self.refs["events.obj"] = obj
        ev.on_event = self.refs["events.on_event"]
        self.events = ev


_JOB_SIZE = _JOB.size
_job_struct_at = N.stg_job.from_address
_unpack_job_from = _JOB.struct.unpack_from


def _job_at(address: int) -> Job:
    """A Job from the ``stg_job`` at ``address``: one unpack for the numbers,
    the texts through the struct's c_char_p members (cheaper than
    ``ctypes.string_at``, which is a Python function over a ctypes call)."""
    j = _job_struct_at(address)
    jid, _, _, pub, avail, changed, attempt, prio, flags = _job_fields(_unpack_job_from(j))
    return _new_tuple(Job, (jid, j.integration.decode("utf-8", "surrogateescape"),
                            j.sku.decode("utf-8", "surrogateescape"), pub, avail, changed,
                            attempt, _PRIORITIES[prio], _JOB_FLAGS[flags]))
_RESULT_SIZE = ctypes.sizeof(N.stg_job_result)
_iter_jobs = _JOB.struct.iter_unpack
_JW = _JOB.size // 8
_JW_INTEG, _JW_SKU = _JOB.offset["integration"] // 8, _JOB.offset["sku"] // 8
assert _JOB.size % 8 == 0, "stg_job layout changed: see _jobs_at in hooks.py"


def _jobs_at(address: int, n: int) -> List[Job]:
    """The ``n`` Jobs of the ``stg_job`` array at ``address``: the numbers in
    one iter_unpack, the texts in C-level slices of a c_char_p overlay."""
    words = n * _JW
    ptrs = (ctypes.c_char_p * words).from_address(address)
    skus = b"\0".join(ptrs[_JW_SKU:words:_JW]).decode("utf-8", "surrogateescape").split("\0")
    names: Dict[bytes, str] = {}
    out = []
    for raw, ib, sku in zip(_iter_jobs(_string_at(address, n * _JOB_SIZE)),
                            ptrs[_JW_INTEG:words:_JW], skus):
        integration = names.get(ib)
        if integration is None:
            integration = names[ib] = ib.decode("utf-8", "surrogateescape")
        jid, _, _, pub, avail, changed, attempt, prio, flags = _job_fields(raw)
        out.append(_new_tuple(Job, (jid, integration, sku, pub, avail, changed, attempt,
                                    _PRIORITIES[prio], _JOB_FLAGS[flags])))
    return out


__all__ = ["Job", "Result", "Event", "ManualClock", "MemoryStorage"]
