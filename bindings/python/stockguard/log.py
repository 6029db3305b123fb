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

import ctypes
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Union

from . import _native as N
from ._util import Key, i32, i64, size, to_c, u32, u64
from .entry import Entry
from .enums import (ChangeFlag, Decision, EntryStatus, ErrorClass, Outcome, Priority, QueryFlag,
                    Reason, RemoveFlag, Status, WarningFlag, coerce)
from .errors import Recursive, StateError, StockguardError
from .hooks import HookSet, Result
from .policy import Policy


@dataclass(frozen=True)
class Submission:
    """One stock change for :meth:`Log.submit_batch` (``stg_submit``)."""

    integration: str
    sku: str
    available: int
    sequence: int = 0               #: source order; older than the applied one is stale
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
        s.sequence = i64(self.sequence, "sequence")
        s.changed_at = i64(self.changed_at, "changed_at")


@dataclass(frozen=True)
class SubmitResult:
    """What the log did with a change (``stg_submit_result``)."""

    decision: Decision   #: EXPORT, SKIP, COALESCED or STALE
    reason: Reason
    published: int       #: the published quantity of the change
    warnings: WarningFlag
    priority: Priority   #: of the job (exports and coalesced)
    job_id: int          #: the job carrying it; 0 for skip and stale

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
        return cls(coerce(Decision, r.decision), coerce(Reason, r.reason),  # type: ignore
                   r.published, WarningFlag(r.warnings),
                   coerce(Priority, r.priority), r.job_id)  # type: ignore


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

    @property
    def api_calls_saved(self) -> int:
        """All skipped changes."""
        return sum(self.skips.values())

    @classmethod
    def _from_c(cls, s: N.stg_stats) -> "Stats":
        def lat(v: int) -> Optional[int]:
            return None if v < 0 else v
        return cls(s.changes, s.exports, s.coalesced, s.stale,
                   {coerce(Reason, i): s.skips[i] for i in range(N.REASON_COUNT)},  # type: ignore
                   s.attempts, s.successes,
                   {coerce(ErrorClass, i): s.errors[i]  # type: ignore
                    for i in range(N.ERRCLASS_COUNT)},
                   s.abnormal, s.warnings, lat(s.latency_p50_ms), lat(s.latency_p95_ms),
                   lat(s.latency_p99_ms), lat(s.latency_max_ms))


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
    """

    def __init__(self, storage: Any = None, transport: Any = None, clock: Any = None,
                 events: Any = None, *, latency_limit_ms: int = 0, backoff_base_ms: int = 0,
                 backoff_max_ms: int = 0, catalogue_retry_ms: int = 0,
                 success_max_age_ms: int = 0, success_max_count: int = 0, jitter_seed: int = 0,
                 max_transient_retries: int = 0) -> None:
        lib = N.lib
        self._h: Any = None
        self._close_fn = lib.stg_log_close
        self._lock = threading.RLock()
        self._depth = 0
        opts = N.stg_log_options()
        lib.stg_log_options_init(ctypes.byref(opts), N.LOG_OPTIONS_VERSION)
        opts.latency_limit_ms = i64(latency_limit_ms, "latency_limit_ms")
        opts.backoff_base_ms = i64(backoff_base_ms, "backoff_base_ms")
        opts.backoff_max_ms = i64(backoff_max_ms, "backoff_max_ms")
        opts.catalogue_retry_ms = i64(catalogue_retry_ms, "catalogue_retry_ms")
        opts.success_max_age_ms = i64(success_max_age_ms, "success_max_age_ms")
        opts.success_max_count = u64(success_max_count, "success_max_count")
        opts.jitter_seed = u64(jitter_seed, "jitter_seed")
        opts.max_transient_retries = u32(max_transient_retries, "max_transient_retries")
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
                self._close_fn(h)
                self._hooks.clear()

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
              on_error: Optional[Callable[[StockguardError], None]] = None) -> None:
        """Call ``fn(handle, *args)``; re-raise a hook's exception afterwards."""
        with self._lock:
            h = self._handle()
            outer = self._depth == 0
            self._depth += 1
            err: Optional[StockguardError] = None
            try:
                fn(h, *args)
            except StockguardError as exc:
                err = exc
                if on_error is not None:
                    on_error(exc)
            finally:
                self._depth -= 1
                pending = self._hooks.take() if outer else None
            if pending is not None:
                if err is not None:
                    _chain(pending, err)
                raise pending
            if err is not None:
                raise err

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

    # ------------------------------------------------------------ changes
    def submit(self, integration: Key, sku: Key, available: int, *, sequence: int = 0,
               changed_at: int = 0, category: Optional[Key] = None,
               non_stock: bool = False) -> SubmitResult:
        """Submit one stock change; see ``stg_log_submit()``."""
        s = N.stg_submit()
        Submission(integration, sku, available, sequence, changed_at, category,  # type: ignore
                   non_stock)._fill(s)
        out = N.stg_submit_result()
        self._call(N.lib.stg_log_submit, ctypes.byref(s), ctypes.byref(out))
        return SubmitResult._from_c(out)

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

        self._call(N.lib.stg_log_submit_batch, arr, n, results, ctypes.byref(done),
                   on_error=partial)
        return [SubmitResult._from_c(results[i]) for i in range(done.value)]

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
        r = N.stg_result()
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
        """Resume a paused integration: its held jobs are due at once."""
        self._call(N.lib.stg_log_resume, to_c(integration, "integration"))

    def is_paused(self, integration: Key) -> bool:
        """Whether an integration is paused."""
        v = ctypes.c_int()
        self._call(N.lib.stg_log_is_paused, to_c(integration, "integration"), ctypes.byref(v))
        return bool(v.value)

    def set_catalogued(self, integration: Key, sku: Key) -> None:
        """The marketplace catalogued ``sku``: its held job goes out at the next pump."""
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
                   (QueryFlag.LATE if late else 0) | (QueryFlag.MIN_STOCK if min_stock else 0))
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
        entries per C call; each page is copied into :class:`Entry` objects
        before it is yielded, so the log may be changed while iterating
        (entries added or removed meanwhile may or may not appear).
        """
        q = self._query(integration, sku_prefix, status, error_class, flags, abnormal, late,
                        min_stock)
        cap = size(page_size, "page_size")
        if cap < 1:
            raise ValueError("page_size must be at least 1")
        return self._pages(q, cap)

    def _pages(self, q: N.stg_query, cap: int) -> Iterator[Entry]:
        cursor = ctypes.c_uint64(0)
        buf = (N.stg_entry * cap)()
        count = ctypes.c_size_t(0)
        while True:
            self._call(N.lib.stg_log_query, ctypes.byref(q), ctypes.byref(cursor), buf, cap,
                       ctypes.byref(count))
            if count.value == 0:
                return
            page = [Entry._from_c(buf[i]) for i in range(count.value)]
            yield from page

    def __iter__(self) -> Iterator[Entry]:
        return self.query()

    def counts(self, integration: Optional[Key] = None) -> Counts:
        """Entries per status, for one integration or all."""
        c = N.stg_counts()
        self._call(N.lib.stg_log_counts, to_c(integration, "integration"), ctypes.byref(c))
        return Counts(c.pending, c.success, c.error, c.held, c.late, c.abnormal)

    def stats(self, integration: Optional[Key] = None) -> Stats:
        """Counters since the log was opened, for one integration or all."""
        s = N.stg_stats()
        self._call(N.lib.stg_log_stats, to_c(integration, "integration"), ctypes.byref(s))
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

    def flush(self) -> int:
        """Write every entry whose write is still owed; returns how many are
        still owed (0 on success; ``pending`` on the exception)."""
        return self._counted(N.lib.stg_log_flush, attr="pending")


def _chain(hook_exc: BaseException, c_error: StockguardError) -> None:
    """Attach the C call's error to the hook's exception (``__cause__``)."""
    if hook_exc is not c_error and hook_exc.__cause__ is None:
        hook_exc.__cause__ = c_error


__all__ = ["Log", "Submission", "SubmitResult", "Counts", "Stats"]
