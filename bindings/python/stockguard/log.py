"""The integration log and its reprocess queue: :class:`Log`.

The log keeps, per (integration, SKU), the state of the SKU's inventory
export (an :class:`~stockguard.entry.Entry`) and at most one job.  Submit
stock changes with :meth:`Log.submit`; :meth:`Log.pump` hands due jobs to
the transport hook and records the results.  See ``stockguard/log.h``.

**Thread model.** As in C, a log serves one thread at a time.  The binding
adds a lock per :class:`Log`, so calls from several threads are serialised
rather than unsafe; hooks run on the calling thread, inside that lock.  A
hook that calls back into its own log gets
:class:`~stockguard.errors.Recursive` (``STG_ERECURSIVE``), and
:meth:`Log.close` from inside a hook is refused the same way.

**Hook exceptions.** See :mod:`stockguard.hooks`: the first exception a
hook raised during a call is re-raised when the call returns, with the C
call's own error (if any) as its ``__cause__``.
"""
from __future__ import annotations

import array
import contextlib
import ctypes
import itertools
import operator
import struct
import threading
import time
import warnings
import weakref
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union)

from . import _native as N
from ._util import (Key, Record, i32, i64, int64_in, key, size, to_c, u32, u64, uint8_in,
                    zeros)
from .entry import Entry
from .enums import (ChangeFlag, Decision, EntryStatus, ErrorClass, Outcome, Priority, QueryFlag,
                    Reason, RemoveFlag, Status, Table, WarningFlag, coerce)
from .errors import InvalidArgument, NotFound, Recursive, StateError, StockguardError
from .hooks import HookSet, Result
from .policy import Policy


@dataclass(frozen=True)
class Submission:
    """One stock change for :meth:`Log.submit_batch` (``stg_submit``).

    ``sequence`` None (the default, was 0) gives the change an automatic
    sequence when it is submitted, as :meth:`Log.submit` does.
    """

    integration: str
    sku: str
    available: int
    sequence: Optional[int] = None  #: source order; older than the applied one is stale
    changed_at: int = 0             #: when the stock changed (ms); 0: now
    category: Optional[str] = None  #: selects a category minimum
    non_stock: bool = False         #: another field (price, catalog...) changed too

    def _fill(self, s: N.stg_submit) -> None:
        s.version = N.SUBMIT_VERSION
        s.flags = ChangeFlag.NON_STOCK if self.non_stock else 0
        s.integration = to_c(self.integration, "integration")
        s.sku = to_c(self.sku, "sku")
        s.category = to_c(self.category, "category")
        s.available = i64(self.available, "available")
        s.sequence = i64(next_sequence() if self.sequence is None else self.sequence,
                         "sequence")
        s.changed_at = i64(self.changed_at, "changed_at")


class SubmitResult(Record):
    """What the log did with a change (``stg_submit_result``).

    Members: ``decision`` (:class:`Decision`: EXPORT, SKIP, COALESCED or
    STALE), ``reason`` (:class:`Reason`), ``published`` (the published
    quantity of the change), ``warnings`` (:class:`WarningFlag`),
    ``priority`` (:class:`Priority` of the job, for exports and coalesced)
    and ``job_id`` (the job carrying it; 0 for skip and stale).  A light
    record (a tuple; it was a frozen dataclass: same members, order and
    constructor), built once per submit from the raw C values, its enums
    looked up when read.
    """

    __slots__ = ()
    _fields = ("decision", "reason", "published", "warnings", "priority", "job_id")
    _tables = {"decision": Table(Decision), "reason": Table(Reason),
               "warnings": Table(WarningFlag), "priority": Table(Priority)}
    _lazy = frozenset(_tables)

    @property
    def exported(self) -> bool:
        """The change became a new job."""
        return self.decision == Decision.EXPORT

    @property
    def min_stock_reached(self) -> bool:
        """The minimum forced a positive stock to 0."""
        return bool(self.warnings & WarningFlag.MIN_STOCK_REACHED)

    @classmethod
    def _from_c(cls, r: N.stg_submit_result) -> "SubmitResult":
        return _result_at(r, 0)


_RES = N.LAYOUTS["stg_submit_result"]
_new_tuple = tuple.__new__
_RESULT6 = _RES.only(*SubmitResult._fields).unpack_from


def _result_at(buf: Any, offset: int) -> SubmitResult:
    """The SubmitResult of the stg_submit_result at ``offset`` in ``buf``."""
    return _new_tuple(SubmitResult, _RESULT6(buf, offset))


@dataclass(frozen=True)
class Counts:
    """Entries per status (``stg_counts``)."""

    pending: int
    success: int
    error: int
    held: int      #: pending and held (not catalogued) or paused
    late: int      #: pending with a late job
    abnormal: int  #: flagged abnormal

    @property
    def total(self) -> int:
        """All entries."""
        return self.pending + self.success + self.error


@dataclass(frozen=True)
class Stats:
    """Counters since the log was opened (``stg_stats``)."""

    changes: int                   #: changes submitted
    exports: int                   #: changes that became a new job
    coalesced: int                 #: changes merged into a waiting job
    stale: int                     #: changes ignored as stale
    skips: Dict[Reason, int]       #: skipped changes by reason (API calls saved)
    attempts: int                  #: jobs handed to the transport
    successes: int                 #: acknowledged jobs
    errors: Dict[ErrorClass, int]  #: failed attempts by error class
    abnormal: int                  #: acknowledgements later than the limit
    warnings: int                  #: changes with min_stock_reached
    latency_p50_ms: Optional[int]  #: None when no export was acknowledged
    latency_p95_ms: Optional[int]
    latency_p99_ms: Optional[int]
    latency_max_ms: Optional[int]
    #: API calls saved by coalescing: merges that needed no call of their own
    #: (``coalesced`` less the follow-ups merges into an in-flight job cost)
    saved_by_coalescing: int = 0
    cooldowns: int = 0             #: rate-limit cool-downs started (one per exhausted limit)
    corrections: int = 0           #: corrections queued by read-backs (:meth:`Log.observe`)

    @property
    def api_calls_saved(self) -> int:
        """API calls saved by the filter: all skipped changes (the calls
        saved by coalescing are :attr:`saved_by_coalescing`, apart)."""
        return sum(self.skips.values())

    @classmethod
    def _from_c(cls, s: N.stg_stats) -> "Stats":
        def lat(v: int) -> Optional[int]:
            return None if v < 0 else v
        return cls(s.changes, s.exports, s.coalesced, s.stale,
                   {coerce(Reason, i): s.skips[i]  # type: ignore
                    for i in range(min(s.nreasons, N.REASON_COUNT))},
                   s.attempts, s.successes,
                   {coerce(ErrorClass, i): s.errors[i]  # type: ignore
                    for i in range(min(s.nclasses, N.ERRCLASS_COUNT))},
                   s.abnormal, s.warnings, lat(s.latency_p50_ms), lat(s.latency_p95_ms),
                   lat(s.latency_p99_ms), lat(s.latency_max_ms), s.saved_by_coalescing,
                   s.cooldowns, s.corrections)


@dataclass(frozen=True)
class MessageRule:
    """A rule that classifies a marketplace answer (``stg_message_rule``):
    an HTTP status range, plus a text the message contains (``match="contains"``)
    or starts with (``"prefix"``), or ``text=None`` for any message -> the
    error class.  See :meth:`Log.set_rules`."""

    error_class: ErrorClass
    text: Optional[str] = None
    http_min: int = 0
    http_max: int = 999
    match: str = "contains"

    def _to_c(self, keep: list) -> N.stg_message_rule:
        r = N.stg_message_rule()
        N.lib.stg_message_rule_init(ctypes.byref(r), 1)
        r.http_min = i32(self.http_min, "http_min")
        r.http_max = i32(self.http_max, "http_max")
        if self.match not in ("contains", "prefix"):
            raise InvalidArgument(Status.EINVAL, "match must be 'contains' or 'prefix', not %r"
                                  % (self.match,))
        r.match = 0 if self.match == "contains" else 1
        if self.text is not None:
            b = to_c(self.text, "text")
            keep.append(b)
            r.text = b
        r.error_class = int(coerce(ErrorClass, self.error_class))
        return r

    @classmethod
    def _from_c(cls, r: N.stg_message_rule) -> "MessageRule":
        return cls(coerce(ErrorClass, r.error_class),
                   None if not r.text else r.text.decode("utf-8", "surrogateescape"),
                   r.http_min, r.http_max, "prefix" if r.match == 1 else "contains")


def default_rules() -> List[MessageRule]:
    """The built-in rules every integration has unless replaced
    (``stg_message_rules_default``): the Carrefour guide's messages, Mercado
    Livre's and English "not found / not catalogued" phrasings, 409 conflict."""
    p = ctypes.POINTER(N.stg_message_rule)()
    n = ctypes.c_size_t()
    N.lib.stg_message_rules_default(ctypes.byref(p), ctypes.byref(n))
    return [MessageRule._from_c(p[i]) for i in range(n.value)]


#: What :meth:`Log.observe` found (``stg_observe_outcome``).
OBSERVED = ("in_sync", "corrected", "not_catalogued", "stale", "pending")


@dataclass(frozen=True)
class LimitState:
    """An integration's rate limit now (``stg_limit_state``)."""

    cooling_until: Optional[int]  #: the scope cools down until (ms since the epoch); None: not
    rate_per_s: float             #: jobs per second the bucket allows now (0: no limit)
    ceiling_per_s: float          #: the most it recovers to (0: no limit)
    announced_per_s: float        #: the quota the marketplace announced last (0: none)
    cooldowns: int                #: cool-downs this integration's answers started
    backoff_level: int            #: cool-downs in a row without a retry-after
    shared: bool                  #: in a named scope

    @classmethod
    def _from_c(cls, s: N.stg_limit_state) -> "LimitState":
        return cls(s.cooling_until or None, s.rate_per_s, s.ceiling_per_s, s.announced_per_s,
                   s.cooldowns, s.backoff_level, bool(s.shared))


SubmissionLike = Union[Submission, tuple, Mapping[str, Any]]


def _as_submission(item: SubmissionLike) -> Submission:
    if isinstance(item, Submission):
        return item
    if isinstance(item, Mapping):
        return Submission(**item)
    if isinstance(item, tuple):
        return Submission(*item)
    raise TypeError("a change must be a Submission, a tuple or a mapping, not %s"
                    % type(item).__name__)


class Log:
    """An integration log (``stg_log``).

    ::

        clock = ManualClock()
        with Log(transport=send, clock=clock) as log:
            log.set_policy("amazon", Policy(min_stock=10))
            r = log.submit("amazon", "SKU-1", 8, sequence=1)
            log.pump()

    Hooks (see :mod:`stockguard.hooks`) are kept referenced by the log for
    as long as it is open.  Options of 0 select the library's defaults.
    Close with :meth:`close` or a ``with`` block; closing is idempotent.

    ``max_transient_attempts`` is how many attempts a job gets against
    transient failures before its entry turns to status error (0 or None:
    the library's 5, that is the first try and 4 retries).
    ``max_transient_retries`` is its old, deprecated name: despite the name
    it always counted attempts, and still does.
    """

    def __init__(self, storage: Any = None, transport: Any = None, clock: Any = None,
                 events: Any = None, *, latency_limit_ms: int = 0, backoff_base_ms: int = 0,
                 backoff_max_ms: int = 0, catalogue_retry_ms: int = 0,
                 success_max_age_ms: int = 0, success_max_count: int = 0, jitter_seed: int = 0,
                 max_transient_attempts: Optional[int] = None,
                 max_transient_retries: Optional[int] = None) -> None:
        lib = N.lib
        self._h: Any = None
        self._close_fn = lib.stg_log_close
        self._lock = threading.RLock()
        self._depth = 0
        self._keys = {}
        opts = N.stg_log_options()
        lib.stg_log_options_init(ctypes.byref(opts), N.LOG_OPTIONS_VERSION)
        opts.latency_limit_ms = i64(latency_limit_ms, "latency_limit_ms")
        opts.backoff_base_ms = i64(backoff_base_ms, "backoff_base_ms")
        opts.backoff_max_ms = i64(backoff_max_ms, "backoff_max_ms")
        opts.catalogue_retry_ms = i64(catalogue_retry_ms, "catalogue_retry_ms")
        opts.success_max_age_ms = i64(success_max_age_ms, "success_max_age_ms")
        opts.success_max_count = u64(success_max_count, "success_max_count")
        opts.jitter_seed = u64(jitter_seed, "jitter_seed")
        opts.max_transient_attempts = _transient_attempts(max_transient_attempts,
                                                          max_transient_retries)
        hooks = HookSet()
        self._hooks = hooks
        try:
            if storage is not None:
                hooks.set_storage(storage)
                opts.storage = ctypes.pointer(hooks.storage)
            if transport is not None:
                hooks.set_transport(*hooks.make_transport(transport))
                opts.transport = ctypes.pointer(hooks.transport)
            if clock is not None:
                hooks.set_clock(clock)
                opts.clock = ctypes.pointer(hooks.clock)
            if events is not None:
                hooks.set_events(events)
                opts.events = ctypes.pointer(hooks.events)
        except BaseException:
            hooks.clear()
            raise
        h = N.log_p()
        self._depth = 1
        try:
            lib.stg_log_open(ctypes.byref(h), ctypes.byref(opts))
        except StockguardError as err:
            self._depth = 0
            pending = hooks.take()
            hooks.clear()
            if pending is not None:
                _chain(pending, err)
                raise pending
            raise
        self._depth = 0
        pending = hooks.take()
        if pending is not None:  # all or nothing: a hook failed although C succeeded
            self._close_fn(h)
            hooks.clear()
            raise pending
        self._h = h
        # Prepared once: the structs of the per-change calls, their
        # addresses, and the encoded integration names (_keys).
        self._fast = _fast(lib)
        self._keys: Dict[Any, bytes] = {}
        self._columns: Optional[_Columns] = None   # taken at the first submit_columns()
        # submit(): one buffer holds the stg_submit, the SKU's text right
        # after it (the struct's sku points there for good) and the result;
        # the integration's pointer changes only when the integration does.
        buf = bytearray(_SUBMIT_BUF)
        self._sub = N.stg_submit.from_buffer(buf)
        lib.stg_submit_init(ctypes.byref(self._sub), N.SUBMIT_VERSION)
        _PACK_POINTER(buf, _SUB.offset["sku"], ctypes.addressof(self._sub) + _TEXT_AT)
        self._sub_res = N.stg_submit_result.from_buffer(buf, _RESULT_AT)
        self._sub_integ: Any = _NO_INTEGRATION   # the integration now in the struct
        self._sub_ib = b""                       # its bytes, referenced while there
        # "quiet": without storage, clock or events hooks a submit runs no
        # Python code inside C (the transport is not called by submit)
        quiet = storage is None and clock is None and events is None
        self._prep = (self._lock, buf, self._fast.submit, N.handle_ref(h),
                      ctypes.byref(self._sub), ctypes.byref(self._sub_res), quiet, self._hooks)

    # ------------------------------------------------------------ lifetime
    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._h is None

    def close(self) -> None:
        """Close the log (``stg_log_close``): jobs in flight are pending again
        at the next open; owed writes are not written (call :meth:`flush`
        first).  Idempotent; refused from inside one of the log's hooks."""
        with self._lock:
            if self._depth:
                raise Recursive(Status.ERECURSIVE,
                                "Log.close() called from inside one of the log's hooks")
            h, self._h = self._h, None
            if h is not None:
                self._sub_integ = _NO_INTEGRATION   # submit()'s fast path sees the close
                self._close_fn(h)
                self._hooks.clear()
                cols, self._columns = self._columns, None
                if cols is not None:
                    cols.release()

    def __enter__(self) -> "Log":
        if self._h is None:
            raise StateError(Status.ESTATE, "the log is closed")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_h", None) is not None and not self._depth:
                h, self._h = self._h, None
                self._sub_integ = _NO_INTEGRATION
                self._close_fn(h)
                self._hooks.clear()
        except Exception:  # interpreter shutdown: modules may be gone
            pass

    def __repr__(self) -> str:
        return "<stockguard.Log %s>" % ("closed" if self._h is None else "open")

    @property
    def errmsg(self) -> str:
        """Message of the log's last failed call ("" when none)."""
        with self._lock:
            raw = N.lib.stg_log_errmsg(self._handle())
        return N.python_message(raw.decode("utf-8", "replace")) if raw else ""

    # ------------------------------------------------------------ the call wrapper
    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise StateError(Status.ESTATE, "the log is closed")
        return h

    def _call(self, fn: Callable, *args: Any,
              on_error: Optional[Callable[[BaseException], None]] = None,
              revalidate: Optional[Callable[[], Any]] = None) -> None:
        """Call ``fn(handle, *args)``; re-raise a hook's exception afterwards.

        ``on_error`` attaches partial progress (``done``, ``sent`` ...) to
        the exception the caller gets, and to its ``__cause__`` when the
        C call failed too.
        """
        with self._lock:
            h = self._handle()
            outer = self._depth == 0
            self._depth += 1
            err: Optional[StockguardError] = None
            try:
                fn(h, *args)
            except StockguardError as exc:
                err = exc
            finally:
                self._depth -= 1
                pending = self._hooks.take() if outer else None
            if pending is not None or err is not None:
                _raise(pending, err, on_error, revalidate)

    def _key(self, value: Any, what: str) -> bytes:
        """A required key (integration) as bytes, cached per log when it is a str."""
        raw = key(value, what)
        if type(value) is str and len(self._keys) < 4096:
            self._keys[value] = raw
        return raw

    # ------------------------------------------------------------ configuration
    def set_transport(self, transport: Any) -> None:
        """Set or replace the transport hook."""
        t, refs = self._hooks.make_transport(transport)
        self._call(N.lib.stg_log_set_transport, ctypes.byref(t))
        self._hooks.set_transport(t, refs)

    def set_policy(self, integration: Key, policy: Policy) -> None:
        """Give an integration its policy (copied: later changes to ``policy``
        need another call)."""
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a stockguard.Policy")
        self._call(N.lib.stg_log_set_policy, to_c(integration, "integration"), policy._handle())

    def set_limits(self, integration: Key, batch_size: int = 1, max_jobs: int = 0,
                   per_ms: int = 0) -> None:
        """Jobs per transport call (1-10000), and at most ``max_jobs`` per
        ``per_ms`` milliseconds (0, 0: no rate limit)."""
        self._call(N.lib.stg_log_set_limits, to_c(integration, "integration"),
                   u32(batch_size, "batch_size"), u32(max_jobs, "max_jobs"),
                   i64(per_ms, "per_ms"))

    def set_limit_scope(self, integration: Key, scope: Optional[Key] = None) -> None:
        """Count ``integration``'s calls against a named rate-limit scope
        shared with other integrations (one application key serving many
        sellers), or its own (``None``, the default).  A 429 cools down the
        whole scope; see ``stg_log_set_limit_scope()``."""
        self._call(N.lib.stg_log_set_limit_scope, to_c(integration, "integration"),
                   None if scope is None else to_c(scope, "scope"))

    def limit_state(self, integration: Key) -> LimitState:
        """The integration's rate limit and its scope's cool-down
        (:class:`NotFound` for an integration the log has never seen)."""
        out = N.stg_limit_state()
        self._call(N.lib.stg_log_limit_state, self._key(integration, "integration"),
                   ctypes.byref(out))
        return LimitState._from_c(out)

    # ------------------------------------------------------ marketplace
    def set_rules(self, integration: Key, rules: Iterable[MessageRule], *,
                  keep_defaults: bool = False) -> None:
        """Rules that classify the marketplace's answers for ``integration``,
        checked in order before the HTTP status mapping when the transport
        leaves the class to the log (``stg_log_set_rules``).  They replace
        the built-in ones unless ``keep_defaults``.  A bad rule (empty or
        too long a text, an unknown class, a bad status range) raises
        :class:`InvalidArgument` and changes nothing."""
        keep: list = []
        rs = [r if isinstance(r, MessageRule) else MessageRule(**r) for r in rules]
        arr = (N.stg_message_rule * max(len(rs), 1))()
        for i, r in enumerate(rs):
            arr[i] = r._to_c(keep)
        self._call(N.lib.stg_log_set_rules, to_c(integration, "integration"), arr, len(rs),
                   1 if keep_defaults else 0)

    def classify(self, integration: Key, http_status: int, message: Optional[str]) -> ErrorClass:
        """The error class the log gives an answer of ``integration`` with
        this status and message (its rules, then the status mapping)."""
        out = ctypes.c_int(0)
        self._call(N.lib.stg_log_classify, to_c(integration, "integration"),
                   i32(http_status, "http_status"), to_c(message, "message"), ctypes.byref(out))
        return coerce(ErrorClass, out.value)

    def observe(self, integration: Key, sku: Key, quantity: Optional[int], *,
                observed_at: int = 0) -> str:
        """Report what the marketplace shows for a SKU (a read-back, a
        notification, an inventory report; ``quantity=None``: it does not
        list the SKU) read at ``observed_at`` (ms; 0: now).  Returns one of
        :data:`OBSERVED`: ``"corrected"`` when it differed and a correction
        job was queued (reason ``OUT_OF_SYNC``, an ``OUT_OF_SYNC`` event),
        ``"not_catalogued"`` when the SKU is missing there, ``"stale"`` for
        a read older than the last acknowledgement (ignored), ``"pending"``
        when a job is on its way anyway, ``"in_sync"``."""
        o = N.stg_observation()
        N.lib.stg_observation_init(ctypes.byref(o), 1)
        o.integration = to_c(integration, "integration")
        o.sku = to_c(sku, "sku")
        if quantity is None:
            o.flags = 1
        else:
            o.quantity = i64(quantity, "quantity")
        o.observed_at = i64(observed_at, "observed_at")
        out = ctypes.c_int(0)
        self._call(N.lib.stg_log_observe, ctypes.byref(o), ctypes.byref(out))
        return OBSERVED[out.value] if 0 <= out.value < len(OBSERVED) else str(out.value)

    # ------------------------------------------------------------ changes
    def submit(self, integration: Key, sku: Key, available: int, *,
               sequence: Optional[int] = None, changed_at: int = 0,
               category: Optional[Key] = None, non_stock: bool = False) -> SubmitResult:
        """Submit one stock change; see ``stg_log_submit()``.

        ``sequence`` is the change's place in the source's order: a change
        older than the one applied for the SKU is ignored as stale.  Give
        the source's own order (an event offset, a version) to get that
        protection.  Left out (None), the binding numbers changes in arrival
        order (:func:`next_sequence`: microseconds since the epoch, rising
        within the process), which protects nothing but never makes a later
        change stale; do not mix it with small sequences of your own for one
        SKU.  ``sequence=0`` is the library's "no order".
        """
        if sequence is None:
            sequence = next_sequence()
        # one attribute load for everything prepared at open (see __init__)
        lock, buf, call, h, s_ref, r_ref, quiet, hooks = self._prep
        lock.acquire()   # explicit: cheaper than a with block on this path
        try:
            if self._depth or integration is not self._sub_integ:
                self._submit_enter(integration)   # a hook's call, closed, or another integration
            try:
                skb = sku.encode()
            except (AttributeError, UnicodeEncodeError):   # bytes, or a lone surrogate
                skb = key(sku, "sku")
            if 0 in skb:   # (the int: "b'\0' in" would first fail as an int, in C)
                key(sku, "sku")   # raises, naming the argument
            # available, sequence, changed_at and the SKU's text are
            # consecutive in buf: one pack_into (the text padded with NULs
            # to KEY_MAX + 1 bytes; the library judges its length)
            try:
                _PACK_TEXT(buf, _AVAIL_AT, available, sequence, changed_at, skb)
            except struct.error:
                i64(available, "available")
                i64(sequence, "sequence")
                i64(changed_at, "changed_at")
                key(sku, "sku")
                raise
            if category is not None or non_stock:
                rc = self._submit_with(category, non_stock, h, s_ref, r_ref)
            elif quiet:   # no Python hook can run during this call: nothing to guard
                rc = call(h, s_ref, r_ref)
            else:
                self._depth = 1
                try:
                    rc = call(h, s_ref, r_ref)
                finally:
                    self._depth = 0
            if rc or (not quiet and hooks.pending is not None):
                self._submit_failed(rc, integration, sku, category)
            return _new_tuple(SubmitResult, _RESULT6(buf, _RESULT_AT))
        finally:
            lock.release()

    def _submit_enter(self, integration: Any) -> None:
        """submit()'s checks off its fast path: refused inside a hook or on a
        closed log; a new integration's name put into the prepared struct."""
        if self._depth or self._h is None:
            self._handle()
            raise Recursive(Status.ERECURSIVE, "Log.submit() called from inside one of "
                            "the log's hooks")
        try:
            ib = self._keys[integration]
        except (KeyError, TypeError):
            ib = self._key(integration, "integration")
        _PACK_POINTER(self._prep[1], _SUB.offset["integration"], _address(ib))
        self._sub_ib = ib
        # only a str or bytes (immutable) may be recognised by identity
        self._sub_integ = integration if type(integration) in (str, bytes) else _NO_INTEGRATION

    def _submit_with(self, category: Any, non_stock: Any, h: Any, s_ref: Any, r_ref: Any) -> int:
        """submit() with a category or non_stock: written for this call, then
        the prepared struct's defaults (no category, stock-only) put back."""
        cb = None if category is None else key(category, "category")
        s = self._sub
        s.category = cb
        s.flags = _NON_STOCK if non_stock else 0
        self._depth = 1
        try:
            return self._prep[2](h, s_ref, r_ref)
        finally:
            self._depth = 0
            s.category = None
            s.flags = 0

    def _submit_failed(self, rc: int, integration: Any, sku: Any, category: Any) -> None:
        """Raise what a failed submit() ended with (see _raise)."""
        err = N.lib.fail(rc, N.ERR_LOG, self._h) if rc < 0 else None
        _raise(self._hooks.take(), err, None,
               lambda: (key(integration, "integration"), key(sku, "sku"),
                        key(category, "category", optional=True)))

    def submit_batch(self, changes: Iterable[SubmissionLike]) -> List[SubmitResult]:
        """Submit changes in order in one C call (items: :class:`Submission`,
        tuples in its field order, or mappings of its fields).

        On failure the exception carries ``done`` (changes applied) and
        ``results`` (their results).
        """
        items = [_as_submission(c) for c in changes]
        n = len(items)
        arr = (N.stg_submit * max(n, 1))()
        for i, item in enumerate(items):
            item._fill(arr[i])
        results = (N.stg_submit_result * max(n, 1))()
        done = ctypes.c_size_t(0)

        def partial(exc: StockguardError) -> None:
            exc.done = done.value  # type: ignore[attr-defined]
            exc.results = [SubmitResult._from_c(results[i])  # type: ignore[attr-defined]
                           for i in range(done.value)]

        def revalidate() -> None:   # name the argument the library refused
            if done.value < n:
                bad = items[done.value]
                key(bad.integration, "changes[%d].integration" % done.value)
                key(bad.sku, "changes[%d].sku" % done.value)
                key(bad.category, "changes[%d].category" % done.value, optional=True)

        self._call(N.lib.stg_log_submit_batch, arr, n, results, ctypes.byref(done),
                   on_error=partial, revalidate=revalidate)
        return [SubmitResult._from_c(results[i]) for i in range(done.value)]

    def submit_columns(self, integration: Union[Key, Sequence[Key]], skus: Sequence[Key],
                       available: Any, sequences: Any = None, *, changed_at: Any = None,
                       categories: Union[Key, Sequence[Optional[Key]], None] = None,
                       non_stock: Any = None) -> "SubmitBatch":
        """Submit changes given as columns, in one C call (``stg_log_submit_batch``).

        ``skus`` is a list (or any sequence) of str or bytes; ``integration``
        one name for every change, or a sequence of names; ``available``,
        ``sequences`` and ``changed_at`` int64 buffers (``array('q')``, numpy
        int64, raw native bytes) or sequences of ints, of ``len(skus)``
        items; ``changed_at`` may also be one int for all.  ``sequences``
        None numbers the changes in arrival order (see :meth:`submit`).
        ``categories``: None, one name, or a sequence of names or None;
        ``non_stock``: None or a 1-byte buffer / sequence of truth values.

        The C array of changes is filled from these columns by strided
        buffer copies, with no Python object per change: an all-ASCII list
        of SKU strings is encoded in one piece, and when the SKUs all have
        one length (fixed-width codes) their pointers are reused from the
        previous call of the same shape.  Returns a :class:`SubmitBatch`
        whose result columns are read from C memory when first used.
        Changes are applied in order and the call stops at the first
        failure: the exception then carries ``done`` (changes applied) and
        ``results`` (the :class:`SubmitBatch` of those).

        The buffers behind the call are the log's, kept from call to call;
        when the log closes they go to the next log that submits columns
        (up to two sets of at most 16 MiB are kept, about 100,000 changes
        of 12-character SKUs each), so a program that opens a log per partition or per run does
        not pay for them again.  A :class:`SubmitBatch` still held keeps its
        own copy of the results.
        """
        n = len(skus)
        with self._lock:
            if self._depth:
                raise Recursive(Status.ERECURSIVE, "Log.submit_columns() called from inside "
                                "one of the log's hooks")
            self._handle()
            try:   # nothing reaches C before this fill is complete
                cols = self._columns
                if cols is None:
                    cols = self._columns = _Columns.take()
                arr, mv = cols.changes(n)
                keep: List[Any] = []
                # cols.put(): a column of one value (or the reused SKU
                # pointers) is not written again when the last call left it
                put = cols.put
                if non_stock is None:
                    put(mv, _W_HEAD, cols.constant(_HEAD_WORD[0], n), True)
                else:
                    ns = uint8_in(non_stock, "non_stock", n)
                    put(mv, _W_HEAD, array.array("q", [_HEAD_WORD[1 if f else 0] for f in ns]))
                if isinstance(integration, (str, bytes)):
                    ib = self._keys.get(integration) or self._key(integration, "integration")
                    put(mv, _W_INTEG, cols.constant(_address(ib), n), True)
                    keep.append(ib)
                else:
                    put(mv, _W_INTEG, _key_pointers(integration, n, "integration", keep))
                put(mv, _W_SKU, *cols.sku_pointers(skus, n, keep))
                if categories is None:
                    put(mv, _W_CAT, cols.constant(0, n), True)
                elif isinstance(categories, (str, bytes)):
                    cb = key(categories, "categories")
                    put(mv, _W_CAT, cols.constant(_address(cb), n), True)
                    keep.append(cb)
                else:
                    put(mv, _W_CAT, _key_pointers(categories, n, "categories", keep,
                                                  optional=True))
                put(mv, _W_AVAIL, _int64_words(available, "available", n))
                if sequences is None:
                    put(mv, _W_SEQ, array.array("q", _next_sequences(n)))
                else:
                    put(mv, _W_SEQ, _int64_words(sequences, "sequences", n))
                if changed_at is None or (isinstance(changed_at, int) and not changed_at):
                    put(mv, _W_CHANGED, cols.constant(0, n), True)
                elif isinstance(changed_at, int):
                    put(mv, _W_CHANGED, cols.constant(i64(changed_at, "changed_at"), n), True)
                else:
                    put(mv, _W_CHANGED, _int64_words(changed_at, "changed_at", n))
            except (InvalidArgument, ValueError, TypeError) as exc:
                exc.done = 0  # type: ignore[attr-defined]
                exc.results = SubmitBatch(bytearray(), 0)  # type: ignore[attr-defined]
                raise
            res = cols.results(n)
            res_c = (N.stg_submit_result * n).from_buffer(res) if n else None
            done = ctypes.c_size_t(0)

            def partial(exc: BaseException) -> None:
                exc.done = done.value  # type: ignore[attr-defined]
                exc.results = cols.batch(res, done.value)  # type: ignore[attr-defined]

            self._call(N.lib.stg_log_submit_batch, arr, n, res_c, ctypes.byref(done),
                       on_error=partial, revalidate=lambda: _revalidate_columns(
                           integration, skus, categories, done.value))
            return cols.batch(res, done.value)

    # ------------------------------------------------------------ jobs
    def pump(self, max_jobs: int = 0) -> int:
        """Hand due jobs to the transport (at most ``max_jobs``; 0: all) and
        record their results.  Returns how many were handed out (also as
        ``sent`` on the exception when it fails)."""
        sent = ctypes.c_size_t(0)

        def partial(exc: StockguardError) -> None:
            exc.sent = sent.value  # type: ignore[attr-defined]

        self._call(N.lib.stg_log_pump, size(max_jobs, "max_jobs"), ctypes.byref(sent),
                   on_error=partial)
        return sent.value

    def complete(self, job_id: int, result: Union[Result, Outcome, None] = None) -> None:
        """Complete a job the transport answered with ``Result.pending()``
        (``result`` None: acknowledged)."""
        if result is None:
            result = Result.ok()
        elif isinstance(result, Outcome):
            result = Result(result)
        r = N.stg_job_result()
        keep: List[Any] = []
        result._fill(r, keep)
        self._call(N.lib.stg_log_complete, u64(job_id, "job_id"), ctypes.byref(r))

    def next_due(self) -> Optional[int]:
        """Milliseconds until the next job is due (0: now), None when none waits."""
        wait = ctypes.c_int64()
        self._call(N.lib.stg_log_next_due, ctypes.byref(wait))
        return None if wait.value < 0 else wait.value

    # ------------------------------------------------------------ integrations
    def pause(self, integration: Key) -> None:
        """Pause an integration: its jobs are held, not lost."""
        self._call(N.lib.stg_log_pause, to_c(integration, "integration"))

    def resume(self, integration: Key) -> None:
        """Resume a paused integration: its held jobs are due at once.

        An integration the log has never seen is not paused: resuming it
        does nothing (as :meth:`is_paused` gives False, :meth:`counts`
        zeros and :meth:`stats` zero counters for it).
        """
        ib = self._key(integration, "integration")
        try:
            self._call(N.lib.stg_log_resume, ib)
        except NotFound:
            pass

    def is_paused(self, integration: Key) -> bool:
        """Whether an integration is paused (False for one never seen)."""
        v = ctypes.c_int()
        self._call(N.lib.stg_log_is_paused, self._key(integration, "integration"),
                   ctypes.byref(v))
        return bool(v.value)

    def set_catalogued(self, integration: Key, sku: Key) -> None:
        """The marketplace catalogued ``sku``: its held job goes out at the next pump.

        For a SKU without an entry the notice is remembered (library 1.1) and
        used by the SKU's first hold as not catalogued.
        """
        self._call(N.lib.stg_log_set_catalogued, to_c(integration, "integration"),
                   to_c(sku, "sku"))

    # ------------------------------------------------------------ entries
    def get(self, integration: Key, sku: Key) -> Entry:
        """The entry of (integration, sku); :class:`~stockguard.errors.NotFound` if none."""
        e = N.stg_entry()
        self._call(N.lib.stg_log_get, to_c(integration, "integration"), to_c(sku, "sku"),
                   ctypes.byref(e))
        return Entry._from_c(e)

    def __contains__(self, key: Any) -> bool:
        try:
            integration, sku = key
            self.get(integration, sku)
        except (ValueError, TypeError):
            return False
        except StockguardError as exc:
            if exc.code == Status.ENOTFOUND:
                return False
            raise
        return True

    @staticmethod
    def _query(integration: Optional[Key], sku_prefix: Optional[Key],
               status: Optional[Union[EntryStatus, int]],
               error_class: Optional[Union[ErrorClass, int]], flags: Union[QueryFlag, int],
               abnormal: bool, late: bool, min_stock: bool) -> N.stg_query:
        q = N.stg_query()
        N.lib.stg_query_init(ctypes.byref(q), N.QUERY_VERSION)
        q.flags = (u32(flags, "flags") | (QueryFlag.ABNORMAL if abnormal else 0) |
                   (QueryFlag.LATE if late else 0) | (QueryFlag.MIN_STOCK_REACHED if min_stock else 0))
        q.integration = to_c(integration, "integration")
        q.sku_prefix = to_c(sku_prefix, "sku_prefix")
        q.status = -1 if status is None else i32(status, "status")
        q.error_class = -1 if error_class is None else i32(error_class, "error_class")
        return q

    def query(self, integration: Optional[Key] = None, *, sku_prefix: Optional[Key] = None,
              status: Optional[Union[EntryStatus, int]] = None,
              error_class: Optional[Union[ErrorClass, int]] = None,
              flags: Union[QueryFlag, int] = 0, abnormal: bool = False, late: bool = False,
              min_stock: bool = False, page_size: int = 256) -> Iterator[Entry]:
        """Iterate the entries matching every given criterion.

        Pages through ``stg_log_query()`` with a cursor, ``page_size``
        entries per C call.  The first page is read by this call, so a bad
        argument (or a closed log) raises here, not at the first ``next()``.
        Each page is copied into light :class:`Entry` records before any is
        yielded (their texts and status at once, their other members read
        from a saved copy of the C struct when first used), so the log may
        be changed while iterating (entries added or removed meanwhile may
        or may not appear).
        """
        q = self._query(integration, sku_prefix, status, error_class, flags, abnormal, late,
                        min_stock)
        cap = size(page_size, "page_size")
        if cap < 1:
            raise ValueError("page_size must be at least 1, not %d" % cap)
        def revalidate() -> None:   # after STG_EINVAL: name the argument
            key(integration, "integration", optional=True)
            for what, value, cls in (("status", status, EntryStatus),
                                     ("error_class", error_class, ErrorClass)):
                if value is not None and value not in set(cls):
                    raise InvalidArgument(Status.EINVAL, "%s must be None or one of %s, not %r"
                                          % (what, ", ".join(m.name for m in cls), value))

        pages = _Pages(self, q, cap)
        return _entries(pages, pages.next(revalidate))

    def __iter__(self) -> Iterator[Entry]:
        return self.query()

    def counts(self, integration: Optional[Key] = None) -> Counts:
        """Entries per status, for one integration or all (zeros for an
        integration never seen)."""
        c = N.stg_counts()
        self._call(N.lib.stg_log_counts, key(integration, "integration", optional=True),
                   ctypes.byref(c))
        return Counts(c.pending, c.success, c.error, c.held, c.late, c.abnormal)

    def stats(self, integration: Optional[Key] = None) -> Stats:
        """Counters since the log was opened, for one integration or all.

        An integration the log has never seen has zero counters (and no
        latencies), as it has zero :meth:`counts`; the binding used to raise
        :class:`~stockguard.errors.NotFound` here.
        """
        s = N.stg_stats()
        try:
            self._call(N.lib.stg_log_stats, key(integration, "integration", optional=True),
                       ctypes.byref(s))
        except NotFound:
            return Stats._from_c(_ZERO_STATS)
        return Stats._from_c(s)

    # ------------------------------------------------------------ merchant actions
    def reprocess(self, integration: Key, sku: Key) -> None:
        """Queue one entry's export again (never instant; may fail again)."""
        self._call(N.lib.stg_log_reprocess, to_c(integration, "integration"), to_c(sku, "sku"))

    def reprocess_matching(self, integration: Optional[Key] = None, *,
                           sku_prefix: Optional[Key] = None,
                           status: Optional[Union[EntryStatus, int]] = None,
                           error_class: Optional[Union[ErrorClass, int]] = None,
                           flags: Union[QueryFlag, int] = 0, abnormal: bool = False,
                           late: bool = False, min_stock: bool = False) -> int:
        """Reprocess every matching entry not in flight; returns how many
        were queued (also ``count`` on the exception)."""
        q = self._query(integration, sku_prefix, status, error_class, flags, abnormal, late,
                        min_stock)
        return self._counted(N.lib.stg_log_reprocess_matching, ctypes.byref(q))

    def remove(self, integration: Key, sku: Key, *, force: bool = False) -> None:
        """Remove one entry; one with a pending job needs ``force=True``
        (otherwise :class:`~stockguard.errors.Busy`)."""
        self._call(N.lib.stg_log_remove, to_c(integration, "integration"), to_c(sku, "sku"),
                   RemoveFlag.FORCE if force else 0)

    def remove_matching(self, integration: Optional[Key] = None, *,
                        sku_prefix: Optional[Key] = None,
                        status: Optional[Union[EntryStatus, int]] = None,
                        error_class: Optional[Union[ErrorClass, int]] = None,
                        flags: Union[QueryFlag, int] = 0, abnormal: bool = False,
                        late: bool = False, min_stock: bool = False,
                        force: bool = False) -> int:
        """Remove every matching entry (without ``force``, those with a
        pending job stay); returns how many (also ``count`` on the exception)."""
        q = self._query(integration, sku_prefix, status, error_class, flags, abnormal, late,
                        min_stock)
        return self._counted(N.lib.stg_log_remove_matching, ctypes.byref(q),
                             RemoveFlag.FORCE if force else 0)

    def _counted(self, fn: Callable, *args: Any, attr: str = "count") -> int:
        n = ctypes.c_size_t(0)

        def partial(exc: StockguardError) -> None:
            setattr(exc, attr, n.value)

        self._call(fn, *args, ctypes.byref(n), on_error=partial)
        return n.value

    def expire(self) -> int:
        """Apply the retention options; returns how many success entries were dropped."""
        return self._counted(N.lib.stg_log_expire, attr="removed")

    # ------------------------------------------------------- transactions
    def begin(self) -> None:
        """Open a transaction (``stg_log_begin``): the changes of the calls
        until :meth:`commit` go to storage as one commit.  Inside it,
        :meth:`pump`, :meth:`complete`, :meth:`pause`, :meth:`resume` and
        :meth:`flush` raise :class:`~stockguard.errors.StateError`.  Prefer
        :meth:`transaction`."""
        self._call(N.lib.stg_log_begin)

    def commit(self) -> None:
        """Commit the transaction :meth:`begin` opened (``stg_log_commit``).
        When storage's commit fails this raises
        :class:`~stockguard.errors.StorageError` and every change of the
        transaction is undone in memory as well (see ``stg_log_commit`` in
        log.h)."""
        self._call(N.lib.stg_log_commit)

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction opened by :meth:`begin` is open."""
        v = ctypes.c_int(0)
        self._call(N.lib.stg_log_in_transaction, ctypes.byref(v))
        return bool(v.value)

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Log"]:
        """``with log.transaction(): ...`` groups the calls of the block
        into one storage commit, made when the block ends.  Changes the
        block made before an exception are committed too (the log has no
        call that undoes them on request), then the exception goes on; a
        failing commit raises :class:`~stockguard.errors.StorageError` and
        undoes the whole block.  Without a transactional store the block
        runs as plain calls (each write durable at once)."""
        self.begin()
        try:
            yield self
        except BaseException:
            try:
                self.commit()
            except StockguardError:
                pass  # the block's own exception is the one to see
            raise
        self.commit()

    def flush(self) -> int:
        """Write every entry whose write is still owed; returns how many are
        still owed (0 on success; ``pending`` on the exception)."""
        return self._counted(N.lib.stg_log_flush, attr="pending")


def _chain(hook_exc: BaseException, c_error: StockguardError) -> None:
    """Attach the C call's error to the hook's exception (``__cause__``)."""
    if hook_exc is not c_error and hook_exc.__cause__ is None:
        hook_exc.__cause__ = c_error


def _raise(pending: Optional[BaseException], err: Optional[StockguardError],
           on_error: Optional[Callable[[BaseException], None]] = None,
           revalidate: Optional[Callable[[], Any]] = None) -> None:
    """Raise what a log call ended with: the hook's exception (chained to the
    C error) or the C error.  ``on_error`` puts the partial progress on the
    raised exception and on its cause; ``revalidate`` re-checks the
    arguments in Python after an ``STG_EINVAL``, to raise a message that
    names the argument and its value instead of the library's."""
    exc = pending if pending is not None else err
    if exc is None:
        return
    if pending is not None and err is not None:
        _chain(pending, err)
    if pending is None and err is not None and err.code == Status.EINVAL and revalidate:
        try:
            revalidate()
        except InvalidArgument as better:
            better.__cause__ = err
            exc = better
    if on_error is not None:
        for target in (exc, err):
            if target is not None:
                try:
                    on_error(target)
                except (AttributeError, TypeError):  # an exception without __dict__
                    pass
    raise exc


class _Pages:
    """The cursor and page buffer of one :meth:`Log.query`."""

    def __init__(self, log: "Log", q: N.stg_query, cap: int) -> None:
        self.log = log
        self.q = q
        self.cap = cap
        self.cursor = ctypes.c_uint64(0)
        self.count = ctypes.c_size_t(0)
        self.buf = (N.stg_entry * cap)()
        self.address = ctypes.addressof(self.buf)
        n = cap * _ENTRY_SIZE
        self.ptrs = (ctypes.c_char_p * (n // 8)).from_buffer(self.buf)
        self.ints = (ctypes.c_int * (n // 4)).from_buffer(self.buf)
        self.done = False

    def next(self, revalidate: Optional[Callable[[], Any]] = None) -> List[Entry]:
        """The next page as light entries ([] when the pages are done)."""
        if self.done:
            return []
        self.log._call(N.lib.stg_log_query, ctypes.byref(self.q), ctypes.byref(self.cursor),
                       self.buf, self.cap, ctypes.byref(self.count), revalidate=revalidate)
        n = self.count.value
        if n < self.cap:   # a short page is the last: no C call to learn it
            self.done = True
        if n == 0:
            return []
        out: List[Entry] = []
        append = out.append
        names: Dict[Optional[bytes], str] = {}
        new = object.__new__
        table = _ENTRY_STATUSES
        size = _ENTRY_SIZE
        page = ctypes.string_at(self.address, n * size)
        # Status and the three texts of every entry come out in a few C-level
        # slices of overlays on the page buffer (a c_char_p item reads its
        # text); the other members stay in ``page`` until an entry is asked
        # for one (Entry.__getattr__).
        w, wi = size // 8, size // 4
        p, ints = self.ptrs, self.ints
        skus = b"\0".join(p[_W_SKU_E:n * w:w]).decode("utf-8", "surrogateescape").split("\0")
        for off, ib, sku, mb, status in zip(range(0, n * size, size), p[_W_INTEG_E:n * w:w],
                                            skus, p[_W_MSG_E:n * w:w],
                                            ints[_I_STATUS_E:n * wi:wi]):
            integration = names.get(ib)
            if integration is None:
                integration = names[ib] = (ib or b"").decode("utf-8", "surrogateescape")
            e = new(Entry)
            d = e.__dict__
            d["integration"] = integration
            d["sku"] = sku
            d["message"] = mb.decode("utf-8", "surrogateescape") if mb is not None else None
            d["status"] = table[status]
            d["_page"] = (page, off)
            append(e)
        return out


def _entries(pages: _Pages, first: List[Entry]) -> Iterator[Entry]:
    page = first
    while page:
        yield from page
        page = pages.next()


_ZERO_STATS = N.stg_stats(latency_p50_ms=-1, latency_p95_ms=-1, latency_p99_ms=-1,
                          latency_max_ms=-1)
_ENTRY_L = N.LAYOUTS["stg_entry"]
_ENTRY_SIZE = _ENTRY_L.size
# the words of the texts, and the int of the status, in each stg_entry
_W_INTEG_E, _W_SKU_E, _W_MSG_E = (_ENTRY_L.offset[n] // 8 for n in ("integration", "sku",
                                                                    "message"))
_I_STATUS_E = _ENTRY_L.offset["status"] // 4
assert _ENTRY_SIZE % 8 == 0, "stg_entry layout changed: see _Pages in log.py"
_ENTRY_STATUSES = Table(EntryStatus)


class _Fast:
    """Second entries to the per-change C functions (see ``Library.fast``)."""

    def __init__(self, lib: Any) -> None:
        self.submit = lib.fast("stg_log_submit")
        self.query = lib.fast("stg_log_query")


def _fast(lib: Any) -> _Fast:
    f = lib.__dict__.get("_log_fast")
    if f is None:
        f = lib.__dict__["_log_fast"] = _Fast(lib)
    return f


def _transient_attempts(attempts: Optional[int], retries: Optional[int]) -> int:
    """The C option ``max_transient_attempts`` from the
    Python names: ``max_transient_attempts``, or the deprecated alias."""
    if retries is not None:
        if attempts is not None:
            raise TypeError("give max_transient_attempts only (max_transient_retries is its "
                            "deprecated name)")
        warnings.warn("Log(max_transient_retries=) counts attempts, not retries: use "
                      "max_transient_attempts= (same value, same meaning)",
                      DeprecationWarning, stacklevel=3)
        return u32(retries, "max_transient_retries")
    return u32(attempts or 0, "max_transient_attempts")


_SEQ = [0]


def next_sequence() -> int:
    """The automatic sequence of a change submitted without one: microseconds
    since the epoch, and always above the last one given in this process."""
    v = time.time_ns() // 1000
    last = _SEQ[0]
    if v <= last:
        v = last + 1
    _SEQ[0] = v
    return v


def _next_sequences(n: int) -> range:
    """``n`` automatic sequences in a row (see :func:`next_sequence`)."""
    first = next_sequence()
    _SEQ[0] = first + n - 1 if n else first
    return range(first, first + n)


_SUB = N.LAYOUTS["stg_submit"]
# integration, sku, category, available, sequence, changed_at: one pack_into
assert _SUB.names[2:] == ["integration", "sku", "category", "available", "sequence",
                         "changed_at"], "stg_submit layout changed: see log.py"
assert [_SUB.offset[n] - _SUB.offset["integration"] for n in _SUB.names[2:]] == \
    [0, 8, 16, 24, 32, 40] and _SUB.size == _SUB.offset["changed_at"] + 8
_PACK_POINTER = struct.Struct("@P").pack_into
# submit()'s buffer: the struct, the SKU's text at its end, then the result
_AVAIL_AT = _SUB.offset["available"]
_TEXT_AT = _SUB.size
_RESULT_AT = -(-(_TEXT_AT + N.KEY_MAX + 2) // 8) * 8
_SUBMIT_BUF = _RESULT_AT + N.LAYOUTS["stg_submit_result"].size
_NO_INTEGRATION = object()   # never an integration: the prepared struct has none yet
# A text of KEY_MAX + 1 bytes or more is cut there by the pack, and still
# ends before _RESULT_AT: the byte after the packed text is never written
# (so always NUL), the library sees a text too long and refuses it.
_PACK_TEXT = struct.Struct("@qqq%ds" % (N.KEY_MAX + 1)).pack_into
assert _RESULT_AT > _TEXT_AT + N.KEY_MAX + 1


_NON_STOCK = int(ChangeFlag.NON_STOCK)


class SubmitBatch:
    """Results of :meth:`Log.submit_columns`: one item per applied change.

    Each column is an ``array.array`` (``'i'`` for the enums and flags,
    ``'q'`` quantities, ``'Q'`` job ids), copied out of the C results the
    first time it is read; ``len()`` is the number of changes applied.
    """

    __slots__ = ("_raw", "_n", "_cols", "__weakref__")
    #: column -> (member of stg_submit_result, array type code, what it holds)
    _COLUMNS = {"decisions": ("decision", "i", ":class:`Decision` values"),
                "reasons": ("reason", "i", ":class:`Reason` values"),
                "published": ("published", "q", "published quantities"),
                "warnings": ("warnings", "i", ":class:`WarningFlag` bits"),
                "priorities": ("priority", "i", ":class:`Priority` values"),
                "job_ids": ("job_id", "Q", "job ids, 0 for skip and stale")}

    def __init__(self, raw: bytearray, n: int) -> None:
        self._raw = raw
        self._n = n
        self._cols: Dict[str, array.array] = {}

    def _column(self, name: str) -> array.array:
        col = self._cols.get(name)
        if col is None:
            member, code, _ = self._COLUMNS[name]
            n = self._n
            col = zeros(code, n)
            if n:
                at, size = _RES.offset[member], _RES.size
                if code == "i":
                    src = memoryview(self._raw)[:n * size].cast("i")[at // 4::size // 4]
                    memoryview(col)[:] = src
                else:
                    src = memoryview(self._raw)[:n * size].cast("q")[at // 8::size // 8]
                    memoryview(col).cast("B").cast("q")[:] = src
            self._cols[name] = col
        return col

    def _detach(self) -> None:
        """Keep a private copy of the C results: the log reuses its buffer."""
        self._raw = bytes(memoryview(self._raw)[:self._n * _RES.size])

    def __len__(self) -> int:
        return self._n

    def count(self, decision: Union[Decision, int]) -> int:
        """How many changes got ``decision``."""
        return self.decisions.count(int(decision))

    def __getitem__(self, i: int) -> SubmitResult:
        """The :class:`SubmitResult` of change ``i``."""
        if not -self._n <= i < self._n:
            raise IndexError("SubmitBatch index out of range")
        return _result_at(self._raw, (i % self._n) * _RES.size)

    def __iter__(self) -> Iterator[SubmitResult]:
        return (self[i] for i in range(self._n))

    def __repr__(self) -> str:
        return "<stockguard.SubmitBatch of %d changes>" % self._n


for _name, (_member, _code, _what) in SubmitBatch._COLUMNS.items():
    setattr(SubmitBatch, _name, property(
        lambda self, _n=_name: self._column(_n), doc="``array('%s')`` of %s" % (_code, _what)))
del _name, _member, _code, _what


class _Columns:
    """The per-log buffers of :meth:`Log.submit_columns`, reused call after
    call (used under the log's lock only).

    A closed log hands its buffers to the next log that submits columns
    (:meth:`take`, :meth:`release`): a program that opens a log per
    partition or per run would otherwise pay, on each log's first call, for
    new zeroed pages, the pointer column of its SKUs and every constant
    column written again, about as much as the call itself.  At most
    ``_SPARE_MAX`` sets of at most ``_SPARE_BYTES`` in all are kept, so a
    closed log of millions of changes gives its memory back.
    """

    _spare: List["_Columns"] = []   # list.pop()/append() are atomic: no lock

    @classmethod
    def take(cls) -> "_Columns":
        try:
            return cls._spare.pop()
        except IndexError:
            return cls()

    def release(self) -> None:
        """Offer the buffers of a closing log to the next one."""
        spare = _Columns._spare
        if len(spare) < _SPARE_MAX and self.nbytes() <= _SPARE_BYTES:
            spare.append(self)

    def nbytes(self) -> int:
        p = self.pointers
        return (self.cap * _SUB.size + len(self.res) + len(self.text)
                + (len(p[2]) * 8 if p is not None else 0)
                + sum(len(a) * 8 for a in self.consts.values()))

    def __init__(self) -> None:
        self.cap = 0
        self.arr: Any = None
        self.mv: Any = None
        self.consts: Dict[Tuple[int, int], array.array] = {}
        self.text = bytearray()
        self.text_base = 0
        self.pointers: Any = None   # (n, step, array) of the last fixed-width call
        self.res = bytearray()
        self.last: Any = None       # weak reference to the SubmitBatch over self.res
        # word of stg_submit -> the reusable source last written to that
        # column over exactly the rows of its length (see put)
        self.written: Dict[int, Any] = {}

    def results(self, n: int) -> bytearray:
        """The results buffer for ``n`` changes, reused call after call; the
        SubmitBatch still reading the previous results gets its own copy."""
        last = self.last() if self.last is not None else None
        if last is not None:
            last._detach()
        self.last = None
        if len(self.res) < n * _RES.size:
            self.res = bytearray(n * _RES.size)
        return self.res

    def batch(self, res: bytearray, n: int) -> "SubmitBatch":
        b = SubmitBatch(res, n)
        if res is self.res:
            if self.last is not None and self.last() is not None:
                self.last()._detach()   # only one batch may read the shared buffer
            self.last = weakref.ref(b)
        return b

    def changes(self, n: int) -> Tuple[Any, memoryview]:
        """A zero-based C array of at least ``n`` changes, and its 8-byte words."""
        if n > self.cap or self.arr is None:
            self.cap = max(n, 1)
            self.arr = (N.stg_submit * self.cap)()
            self.mv = memoryview(self.arr).cast("B").cast("q")
            self.written = {}
        return self.arr, self.mv[:n * (_SUB.size // 8)]

    def put(self, mv: memoryview, word: int, src: Any, reusable: bool = False) -> None:
        """Write column ``word`` of the changes in ``mv`` (every ``_SUB.size //
        8``-th word) from ``src``.  A reusable source (a :meth:`constant`, the
        fixed-width SKU pointers) always holds the same values for the same
        object, so when it is the one last written to the column the words
        are already there and the copy is skipped."""
        written = self.written
        if reusable and written.get(word) is src:
            return
        written.pop(word, None)   # until the copy is complete
        mv[word::_SUB.size // 8] = src
        if reusable:
            written[word] = src

    def constant(self, value: int, n: int) -> array.array:
        """``n`` copies of ``value`` (the last few kept: feeds repeat shapes)."""
        k = (value, n)
        a = self.consts.get(k)
        if a is None:
            if len(self.consts) > 8:
                self.consts.clear()
            a = self.consts[k] = array.array("q", (value,)) * n
        return a

    def sku_pointers(self, values: Any, n: int, keep: List[Any]) -> Tuple[array.array, bool]:
        """Pointer words for the SKU column (see :func:`_key_pointers`), with
        the fast path for an all-ASCII list of one length, and whether they
        are reused (see :meth:`put`)."""
        joined = _ascii_join(values, n)
        if joined is None:
            return _key_pointers(values, n, "skus", keep), False
        width = len(values[0]) if n else 0
        step = width + 1
        if n and width and len(joined) == n * step - 1 and joined[width::step] == "\0" * (n - 1):
            size = n * step
            if size > len(self.text):
                self.text = bytearray(size)
                self.text_base = ctypes.addressof(ctypes.c_char.from_buffer(self.text))
                self.pointers = None
            self.text[:size - 1] = joined.encode()
            self.text[size - 1] = 0
            p = self.pointers
            if p is None or p[0] != n or p[1] != step:
                p = self.pointers = (n, step, array.array(
                    "q", range(self.text_base, self.text_base + size, step)))
            return p[2], True
        return _key_pointers(values, n, "skus", keep, joined=joined), False


# Spare submit_columns() buffers of closed logs (see _Columns): two sets of
# up to 16 MiB, room for about 100,000 changes of 12-character SKUs each
# (change and result structs, SKU text and pointers, constant columns).
_SPARE_MAX = 2
_SPARE_BYTES = 16 << 20


def _ascii_join(values: Any, n: int) -> Optional[str]:
    """The keys joined by NUL when they are all ASCII str without NUL, else None."""
    if isinstance(values, (str, bytes)):
        raise TypeError("skus must be a sequence of keys, not a single key")
    if len(values) != n:
        raise ValueError("skus has %d items, expected %d" % (len(values), n))
    try:
        joined = "\0".join(values)
    except TypeError:
        return None
    if joined.isascii() and joined.count("\0") == n - 1:
        return joined
    return None


def _address(raw: bytes) -> int:
    """Address of the bytes' own NUL-terminated buffer (kept alive by the caller)."""
    return ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p).value or 0


def _key_pointers(values: Any, n: int, what: str, keep: List[Any],
                  optional: bool = False, joined: Optional[str] = None) -> array.array:
    """``const char *`` words for a column of keys, the texts kept in ``keep``.

    An all-ASCII list of str is encoded in one piece and the pointers are
    computed from the lengths; anything else is encoded key by key.
    """
    if joined is None and not optional:
        joined = _ascii_join(values, n) if n else None
    if isinstance(values, (str, bytes)):
        raise TypeError("%s must be a sequence of keys, not a single key" % what)
    if len(values) != n:
        raise ValueError("%s has %d items, expected %d" % (what, len(values), n))
    if joined is not None:
        raw = joined.encode() + b"\0"
        keep.append(raw)
        # item i starts after the i items before it and their i NULs
        return array.array("q", map(operator.add, itertools.accumulate(
            itertools.chain((_address(raw),), map(len, values))), range(n)))
    words = array.array("q", bytes(8 * n))
    for i, v in enumerate(values):
        b = key(v, "%s[%d]" % (what, i), optional)
        if b is not None:
            keep.append(b)
            words[i] = _address(b)
    return words


def _int64_words(obj: Any, what: str, n: int) -> memoryview:
    arr, _ = int64_in(obj, what, n)
    return memoryview(arr).cast("B").cast("q")


def _revalidate_columns(integration: Any, skus: Sequence[Any], categories: Any,
                        i: int) -> None:
    """After STG_EINVAL at change ``i``: name the argument that made it fail."""
    if isinstance(integration, (str, bytes)):
        key(integration, "integration")
    elif i < len(integration):
        key(integration[i], "integration[%d]" % i)
    if i < len(skus):
        key(skus[i], "skus[%d]" % i)
    if categories is not None:
        if isinstance(categories, (str, bytes)):
            key(categories, "categories")
        elif i < len(categories):
            key(categories[i], "categories[%d]" % i, optional=True)


_W_HEAD, _W_INTEG, _W_SKU, _W_CAT, _W_AVAIL, _W_SEQ, _W_CHANGED = (
    _SUB.offset[name] // 8 for name in ("version", "integration", "sku", "category",
                                        "available", "sequence", "changed_at"))
assert _SUB.size % 8 == 0 and _SUB.offset["flags"] == 4, "stg_submit layout changed: see log.py"
# version and flags share the first 8-byte word: without and with NON_STOCK
_HEAD_WORD = tuple(struct.unpack("q", struct.pack("II", N.SUBMIT_VERSION, f))[0]
                   for f in (0, int(ChangeFlag.NON_STOCK)))


__all__ = ["Log", "Submission", "SubmitResult", "SubmitBatch", "Counts", "Stats", "next_sequence"]
