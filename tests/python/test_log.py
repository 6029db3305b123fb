"""The integration log through the binding: every method and error path."""
from __future__ import annotations

import pytest

import stockguard as sg
from conftest import BatchTransport, Transport

I = "amazon"


def status(log, sku, integration=I):
    return log.get(integration, sku).status


# ------------------------------------------------------------------ lifetime
def test_open_close_idempotent_and_closed_use(clock):
    log = sg.Log(clock=clock)
    assert not log.closed and "open" in repr(log)
    log.close()
    log.close()
    assert log.closed and "closed" in repr(log)
    for action in (lambda: log.submit(I, "A", 1), lambda: log.pump(), lambda: log.counts(),
                   lambda: list(log.query()), lambda: log.errmsg, lambda: log.next_due()):
        with pytest.raises(sg.StateError) as info:
            action()
        assert info.value.code == sg.Status.ESTATE
    with pytest.raises(sg.StateError):
        with log:
            pass


def test_context_manager_and_defaults():
    with sg.Log() as log:  # system clock, in-memory store, no transport yet
        r = log.submit(I, "A", 3)
        assert r.exported and r.reason == sg.Reason.FIRST_SEEN
        with pytest.raises(sg.StateError) as info:
            log.pump()
        assert "transport" in info.value.message and log.errmsg == info.value.message
        log.set_transport(lambda job: None)
        assert log.pump() == 1 and status(log, "A") == sg.EntryStatus.SUCCESS
    assert log.closed


def test_bad_options_are_refused():
    with pytest.raises(sg.InvalidArgument) as info:
        sg.Log(latency_limit_ms=-1)
    assert info.value.message == sg.last_error()
    with pytest.raises(sg.OutOfRange):
        sg.Log(success_max_count=-1)
    with pytest.raises(TypeError):
        sg.Log(storage=object())
    with pytest.raises(TypeError):
        sg.Log(transport=42)
    with pytest.raises(TypeError):
        sg.Log(clock="now")
    with pytest.raises(TypeError):
        sg.Log(events=3)


# ------------------------------------------------------------------ submit
def test_submit_decisions(log, transport):
    r = log.submit(I, "A", 50, sequence=1)
    assert (r.decision, r.reason, r.published, r.priority) == \
        (sg.Decision.EXPORT, sg.Reason.FIRST_SEEN, 50, sg.Priority.NORMAL)
    assert r.job_id and r.exported
    c = log.submit(I, "A", 40, sequence=2)
    assert c.decision == sg.Decision.COALESCED and c.job_id == r.job_id
    s = log.submit(I, "A", 30, sequence=1)
    assert s.decision == sg.Decision.STALE and s.reason == sg.Reason.STALE and s.job_id == 0
    assert log.pump() == 1 and transport.jobs[0].published == 40
    k = log.submit(I, "A", 30, sequence=3)
    assert k.decision == sg.Decision.SKIP and k.reason == sg.Reason.OUTSIDE_WINDOW
    e = log.submit(I, "A", 3, sequence=4)
    assert e.reason == sg.Reason.LOW_STOCK and e.priority == sg.Priority.LOW_STOCK
    n = log.submit(I, "A", 3, sequence=5, non_stock=True)
    assert n.decision == sg.Decision.COALESCED
    log.pump()
    assert transport.jobs[-1].non_stock and transport.jobs[-1].published == 3


def test_submit_with_policy_category_and_warning(log, transport, events):
    with sg.Policy(min_stock=10) as p:
        p.set_category_min("shoes", 20)
        log.set_policy(I, p)
        p.min_stock = 0  # the log keeps its own copy
    r = log.submit(I, "A", 15, sequence=1, category="shoes")
    assert r.published == 0 and r.min_stock_reached and r.priority == sg.Priority.URGENT
    [ev] = events.of(sg.EventType.MIN_STOCK_REACHED)
    assert (ev.integration, ev.sku, ev.available, ev.min_stock) == (I, "A", 15, 20)
    assert ev.time == 1_000_000 and ev.message is None
    log.pump()
    assert transport.jobs[0].min_stock_reached
    e = log.get(I, "A")
    assert e.min_stock_reached and e.has_acked and e.acked == 0


def test_submit_errors(log):
    with pytest.raises(sg.InvalidArgument):
        log.submit(I, "", 1)
    with pytest.raises(sg.InvalidArgument):
        log.submit("", "A", 1)
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit(I, "A", 1, changed_at=-5)
    assert info.value.message == log.errmsg
    with pytest.raises(sg.InvalidArgument):
        log.submit(I, "A\0", 1)
    with pytest.raises(sg.OutOfRange):
        log.submit(I, "A", 1 << 63)
    with pytest.raises(TypeError):
        log.set_policy(I, "policy")
    assert log.counts().total == 0


def test_submit_batch(log):
    out = log.submit_batch([
        sg.Submission(I, "A", 10, sequence=1),
        (I, "B", 2, 1),
        {"integration": I, "sku": "C", "available": 40, "sequence": 1, "category": "x"},
        sg.Submission(I, "A", 8, sequence=2),
    ])
    assert [r.decision for r in out] == [sg.Decision.EXPORT] * 3 + [sg.Decision.COALESCED]
    assert log.counts().pending == 3
    assert log.submit_batch([]) == []
    with pytest.raises(TypeError):
        log.submit_batch([42])


def test_submit_batch_failure_reports_what_was_done(log):
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit_batch([(I, "A", 1), (I, "B", 2), (I, "", 3), (I, "D", 4)])
    assert info.value.done == 2
    assert [r.decision for r in info.value.results] == [sg.Decision.EXPORT] * 2
    assert (I, "A") in log and (I, "B") in log and (I, "D") not in log


# ------------------------------------------------------------------ pump and classes
def test_pump_sends_jobs_and_records_success(log, transport, clock):
    log.submit(I, "A", 3, sequence=1, changed_at=clock.now - 500)
    log.submit("magalu", "A", 7, sequence=1)
    assert log.next_due() == 0
    assert log.pump() == 2
    assert log.pump() == 0 and log.next_due() is None
    job = [j for j in transport.jobs if j.integration == I][0]
    assert (job.sku, job.published, job.available, job.attempt) == ("A", 3, 3, 1)
    assert isinstance(job, sg.Job) and isinstance(job.priority, sg.Priority)
    e = log.get(I, "A")
    assert e.status == sg.EntryStatus.SUCCESS and e.acked == 3 and e.latency_ms == 500
    assert e.acked_at == clock.now and e.job_state == sg.JobState.NONE


def test_pump_max_jobs_and_priority(log, transport):
    log.submit(I, "normal", 50, sequence=1)
    log.submit(I, "low", 3, sequence=1)
    log.submit(I, "zero", 0, sequence=1)
    assert log.pump(max_jobs=1) == 1
    assert transport.jobs[0].sku == "zero" and transport.jobs[0].priority == sg.Priority.URGENT
    assert log.pump(1) == 1 and transport.jobs[1].sku == "low"
    assert log.pump() == 1
    with pytest.raises(sg.OutOfRange):
        log.pump(-1)


def test_auth_pauses_until_resume(log, transport, events):
    transport.script.append(sg.Result.error(401, "token expired"))
    log.submit(I, "A", 5, sequence=1)
    log.submit(I, "B", 6, sequence=1)
    assert log.pump(1) == 1
    assert log.is_paused(I) and not log.is_paused("other")
    [ev] = events.of(sg.EventType.INTEGRATION_PAUSED)
    assert ev.http_status == 401 and ev.message == "token expired" and ev.sku is None
    assert log.pump() == 0 and log.next_due() is None
    e = log.get(I, transport.jobs[0].sku)
    assert e.error_class == sg.ErrorClass.AUTH and e.status == sg.EntryStatus.PENDING
    assert log.counts(I).held == 2
    log.resume(I)
    assert not log.is_paused(I) and events.of(sg.EventType.INTEGRATION_RESUMED)
    assert log.pump() == 2
    assert log.counts(I).success == 2
    log.resume("never-seen")  # not paused: nothing to do (see test_unknown_integration_...)


def test_manual_pause(log, events):
    log.submit(I, "A", 5, sequence=1)
    log.pause(I)
    assert log.is_paused(I) and log.pump() == 0
    assert events.of(sg.EventType.INTEGRATION_PAUSED)
    log.resume(I)
    assert log.pump() == 1


def test_not_catalogued_is_held_until_catalogued(clock, transport):
    transport.script.append(sg.Result.error(404, "unknown product",
                                            error_class=sg.ErrorClass.NOT_CATALOGUED))
    with sg.Log(transport=transport, clock=clock, catalogue_retry_ms=60_000) as log:
        log.submit(I, "A", 5, sequence=1)
        log.pump()
        e = log.get(I, "A")
        assert e.job_state == sg.JobState.HELD and e.error_class == sg.ErrorClass.NOT_CATALOGUED
        assert log.pump() == 0 and log.next_due() == 60_000
        log.set_catalogued(I, "A")
        assert log.pump() == 1 and status(log, "A") == sg.EntryStatus.SUCCESS
        with pytest.raises(sg.StateError):
            log.set_catalogued(I, "A")
        log.set_catalogued(I, "nope")  # 1.1: remembered for a SKU without an entry
        with pytest.raises(sg.InvalidArgument):
            log.set_catalogued(I, "")


def test_rate_limited_honours_retry_after(log, transport, clock):
    transport.script.append(sg.Result.error(429, "slow down", retry_after_ms=5000))
    log.submit(I, "A", 5, sequence=1)
    log.pump()
    assert log.next_due() >= 5000 and log.pump() == 0
    assert log.get(I, "A").error_class == sg.ErrorClass.RATE_LIMITED
    clock.advance(log.next_due())
    assert log.pump() == 1 and status(log, "A") == sg.EntryStatus.SUCCESS
    assert transport.jobs[-1].attempt == 2


def test_transient_retries_then_error_then_reprocess(clock):
    t = Transport(*[sg.Result.error(503, "down")] * 3)
    with sg.Log(transport=t, clock=clock, max_transient_retries=2, backoff_base_ms=100,
                backoff_max_ms=1000, jitter_seed=7) as log:
        log.submit(I, "A", 5, sequence=1)
        log.pump()
        assert status(log, "A") == sg.EntryStatus.PENDING
        clock.advance(2000)
        log.pump()
        e = log.get(I, "A")
        assert e.status == sg.EntryStatus.ERROR and e.attempts == 2 and e.http_status == 503
        assert e.message == "down" and e.error_class == sg.ErrorClass.TRANSIENT
        assert log.stats().errors[sg.ErrorClass.TRANSIENT] == 2
        log.reprocess(I, "A")
        assert status(log, "A") == sg.EntryStatus.PENDING  # never instant
        assert log.pump() == 1  # the third scripted failure
        for _ in range(3):
            clock.advance(2000)
            log.pump()
        if status(log, "A") == sg.EntryStatus.ERROR:  # the retry budget was the entry's
            log.reprocess(I, "A")
            log.pump()
        assert status(log, "A") == sg.EntryStatus.SUCCESS
        assert log.get(I, "A").attempts == 0 and log.get(I, "A").message is None


def test_rejected_is_an_error_at_once(log, transport):
    transport.script.append(sg.Result.error(400, "invalid quantity"))
    log.submit(I, "A", 5, sequence=1)
    log.pump()
    e = log.get(I, "A")
    assert e.status == sg.EntryStatus.ERROR and e.error_class == sg.ErrorClass.REJECTED
    assert e.message == "invalid quantity" and e.http_status == 400


def test_explicit_error_class_overrides_http(log, transport):
    transport.script.append(sg.Result.error(400, "throttled",
                                            error_class=sg.ErrorClass.RATE_LIMITED))
    log.submit(I, "A", 5, sequence=1)
    log.pump()
    assert log.get(I, "A").error_class == sg.ErrorClass.RATE_LIMITED


def test_invalid_transport_result_is_a_failed_attempt(log, transport):
    transport.script.append(sg.Result(outcome=9))
    log.submit(I, "A", 5, sequence=1)
    with pytest.raises(sg.InvalidArgument) as info:
        log.pump()
    assert info.value.sent == 1
    assert log.get(I, "A").error_class == sg.ErrorClass.TRANSIENT


def test_transport_may_return_outcomes(log, transport):
    transport.script.extend([sg.Outcome.OK, True])
    log.submit(I, "A", 5, sequence=1)
    log.submit(I, "B", 5, sequence=1)
    assert log.pump() == 2 and log.counts().success == 2


def test_async_completion(log, transport):
    transport.script.extend([sg.Result.pending(), sg.Result.pending()])
    log.submit(I, "A", 5, sequence=1)
    log.submit(I, "B", 5, sequence=1)
    assert log.pump() == 2
    a, b = (log.get(I, s) for s in ("A", "B"))
    assert a.job_state == sg.JobState.IN_FLIGHT and a.status == sg.EntryStatus.PENDING
    log.complete(a.job_id)
    assert status(log, "A") == sg.EntryStatus.SUCCESS
    log.complete(b.job_id, sg.Result.error(422, "bad"))
    assert log.get(I, "B").status == sg.EntryStatus.ERROR
    with pytest.raises(sg.NotFound):
        log.complete(a.job_id)
    with pytest.raises(sg.InvalidArgument):
        log.complete(b.job_id, sg.Outcome.ASYNC)
    with pytest.raises(sg.OutOfRange):
        log.complete(-1)


def test_change_while_in_flight_follows(log, transport):
    transport.script.append(sg.Result.pending())
    log.submit(I, "A", 5, sequence=1)
    log.pump()
    jid = log.get(I, "A").job_id
    with pytest.raises(sg.Busy) as info:
        log.reprocess(I, "A")
    assert info.value.code == sg.Status.EBUSY
    log.submit(I, "A", 2, sequence=2)
    log.complete(jid)
    assert log.pump() == 1 and transport.jobs[-1].published == 2


def test_batches_and_rate_limits(clock):
    t = BatchTransport()
    with sg.Log(transport=t, clock=clock) as log:
        log.set_limits(I, batch_size=3)
        for i in range(7):
            log.submit(I, "S%d" % i, i, sequence=1)
        assert log.pump() == 7
        assert [len(b) for b in t.batches] == [3, 3]  # a lone job goes through send()
        assert len(t.jobs) == 7
        log.set_limits(I, batch_size=1, max_jobs=2, per_ms=1000)
        for i in range(5):
            log.submit(I, "R%d" % i, 0, sequence=1)
        assert log.pump() == 2
        clock.advance(1000)
        assert log.pump() >= 1
        with pytest.raises(sg.OutOfRange):
            log.set_limits(I, batch_size=0)
        with pytest.raises(sg.OutOfRange):
            log.set_limits(I, batch_size=-1)


def test_batch_results_may_be_none(clock):
    class T:
        def send(self, job):
            return None

        def send_batch(self, jobs):
            return None

    with sg.Log(transport=T(), clock=clock) as log:
        log.set_limits(I, batch_size=10)
        for i in range(4):
            log.submit(I, "S%d" % i, 1, sequence=1)
        assert log.pump() == 4 and log.counts().success == 4


# ------------------------------------------------------------------ latency
def test_abnormal_latency_and_late_jobs(clock, transport, events):
    with sg.Log(transport=transport, clock=clock, events=events, latency_limit_ms=1000) as log:
        log.submit(I, "A", 5, sequence=1)
        log.submit(I, "B", 5, sequence=1)
        clock.advance(5000)
        assert [e.sku for e in log.query(late=True)] == ["A", "B"]
        assert log.counts().late == 2
        log.pump(1)
        [ev] = events.of(sg.EventType.ABNORMAL_LATENCY)
        assert ev.latency_ms == 5000
        [ab] = list(log.query(abnormal=True))
        assert ab.abnormal and ab.sku == ev.sku
        assert log.stats().abnormal == 1 and log.stats().latency_max_ms >= 4600
        assert log.counts().abnormal == 1


# ------------------------------------------------------------------ queries
def _fill(log, transport):
    transport.script.extend([sg.Result.ok(), sg.Result.error(400, "bad"),
                             sg.Result.error(401, "auth")])
    log.submit(I, "shoe-1", 5, sequence=1)
    log.submit(I, "shoe-2", 5, sequence=1)
    log.submit("magalu", "shoe-1", 5, sequence=1)
    log.pump()
    log.submit(I, "bag-1", 50, sequence=1)
    with sg.Policy(min_stock=100) as p:
        log.set_policy("netshoes", p)
    log.submit("netshoes", "shoe-9", 20, sequence=1)


def test_query_filters(log, transport):
    _fill(log, transport)
    keys = lambda it: sorted((e.integration, e.sku) for e in it)  # noqa: E731
    assert len(list(log)) == 5
    assert keys(log.query(I)) == [(I, "bag-1"), (I, "shoe-1"), (I, "shoe-2")]
    assert keys(log.query(sku_prefix="shoe")) == [(I, "shoe-1"), (I, "shoe-2"),
                                                  ("magalu", "shoe-1"), ("netshoes", "shoe-9")]
    assert keys(log.query(status=sg.EntryStatus.ERROR)) == [(I, "shoe-2")]
    assert keys(log.query(error_class=sg.ErrorClass.AUTH)) == [("magalu", "shoe-1")]
    assert keys(log.query(min_stock=True)) == [("netshoes", "shoe-9")]
    assert keys(log.query(flags=sg.QueryFlag.MIN_STOCK)) == [("netshoes", "shoe-9")]
    assert keys(log.query(I, sku_prefix="shoe", status=sg.EntryStatus.SUCCESS)) == \
        [(I, "shoe-1")]
    assert list(log.query("nobody")) == []
    assert all(isinstance(e, sg.Entry) for e in log.query())


def test_query_pages_with_a_cursor(log):
    for i in range(53):
        log.submit(I, "S%03d" % i, i, sequence=1)
    for size in (1, 7, 53, 1000):
        got = [e.sku for e in log.query(page_size=size)]
        assert sorted(got) == ["S%03d" % i for i in range(53)] and len(set(got)) == 53
    with pytest.raises(ValueError):
        list(log.query(page_size=0))


def test_query_survives_changes_between_pages(log):
    for i in range(20):
        log.submit(I, "S%02d" % i, i, sequence=1)
    seen = []
    for e in log.query(page_size=4):
        seen.append(e.sku)
        if len(seen) == 4:
            log.remove(I, "S19", force=True)
            log.submit(I, "NEW", 1, sequence=1)
    assert len(seen) == len(set(seen)) and 19 <= len(seen) <= 21


def test_query_after_close_raises(log):
    log.submit(I, "A", 1)
    log.submit(I, "B", 1)
    it = log.query(page_size=1)
    next(it)
    log.close()
    with pytest.raises(sg.StateError):
        next(it)


def test_get_and_contains(log):
    log.submit(I, "A", 1, sequence=1)
    assert (I, "A") in log and (I, "B") not in log and "junk" not in log
    with pytest.raises(sg.NotFound) as info:
        log.get(I, "B")
    assert isinstance(info.value, LookupError) and info.value.message == log.errmsg
    with pytest.raises(sg.InvalidArgument):
        log.get(I, "")


def test_counts_and_stats(log, transport):
    _fill(log, transport)
    c = log.counts()
    assert (c.pending, c.success, c.error, c.held) == (3, 1, 1, 1) and c.total == 5
    assert log.counts(I).total == 3 and log.counts("nobody").total == 0
    s = log.stats()
    assert s.changes == 5 and s.exports == 5 and s.attempts == 3 and s.successes == 1
    assert s.errors[sg.ErrorClass.REJECTED] == 1 and s.errors[sg.ErrorClass.AUTH] == 1
    assert s.warnings == 1 and s.latency_p50_ms == 0
    log.submit(I, "shoe-1", 40, sequence=2)
    log.pump()
    log.submit(I, "shoe-1", 30, sequence=3)
    assert log.stats(I).skips[sg.Reason.OUTSIDE_WINDOW] == 1
    assert log.stats().api_calls_saved == 1
    assert log.stats("nobody").changes == 0  # zero counters, as counts() (was NotFound)


def test_stats_latency_none_when_nothing_acknowledged(log):
    s = log.stats()
    assert s.latency_p50_ms is None and s.latency_max_ms is None and s.changes == 0


# ------------------------------------------------------------------ merchant actions
def test_reprocess_and_matching(log, transport):
    _fill(log, transport)
    log.reprocess(I, "shoe-1")  # works on success too
    assert status(log, "shoe-1") == sg.EntryStatus.PENDING
    with pytest.raises(sg.NotFound):
        log.reprocess(I, "nope")
    n = log.reprocess_matching(status=sg.EntryStatus.ERROR)
    assert n == 1 and status(log, "shoe-2") == sg.EntryStatus.PENDING
    assert log.reprocess_matching("nobody") == 0


def test_remove_and_matching(log, transport):
    _fill(log, transport)
    log.remove(I, "shoe-1")
    assert (I, "shoe-1") not in log
    with pytest.raises(sg.NotFound):
        log.remove(I, "shoe-1")
    with pytest.raises(sg.Busy):
        log.remove(I, "bag-1")
    log.remove(I, "bag-1", force=True)
    assert log.remove_matching() == 1  # only the error entry; pending ones stay
    assert log.remove_matching(force=True) == 2
    assert log.counts().total == 0
    r = log.submit(I, "shoe-1", 40, sequence=1)
    assert r.reason == sg.Reason.FIRST_SEEN


def test_expire_retention(clock, transport):
    with sg.Log(transport=transport, clock=clock, success_max_count=2,
                success_max_age_ms=10_000) as log:
        for i in range(4):
            log.submit(I, "S%d" % i, 1, sequence=1)
            log.pump()
            clock.advance(10)
        assert log.expire() == 2 and log.counts().success == 2
        clock.advance(20_000)
        assert log.expire() == 2 and log.counts().total == 0
        assert log.expire() == 0


# ------------------------------------------------------------------ storage
def test_memory_storage_round_trip_and_durable_jobs(clock):
    store = sg.MemoryStorage()
    t = Transport(sg.Result.pending())
    with sg.Log(storage=store, transport=t, clock=clock) as log:
        log.submit(I, "A", 5, sequence=1)
        log.submit(I, "B", 6, sequence=1)
        log.pump(1)  # handed out, never completed
        assert len(store) == 2 and store.writes >= 2
        log.remove(I, "B", force=True)
        assert store.removes == 1 and store.get(I, "B") is None
    assert store.get(I, "A").status == sg.EntryStatus.PENDING
    t2 = Transport()
    with sg.Log(storage=store, transport=t2, clock=clock) as log:
        e = log.get(I, "A")
        assert e.job_state == sg.JobState.QUEUED  # in flight at close: pending again
        assert log.pump() == 1 and t2.jobs[0].sku == "A"
        assert status(log, "A") == sg.EntryStatus.SUCCESS
    assert store.get(I, "A").status == sg.EntryStatus.SUCCESS


def test_storage_load_accepts_entries_and_bytes(clock):
    entries = [sg.Entry(I, "A", status=sg.EntryStatus.SUCCESS, published=3, acked=3,
                        flags=sg.EntryFlag.HAS_ACKED),
               sg.Entry(I, "B", status=sg.EntryStatus.ERROR, message="x").encode()]

    class Store:
        def load(self, sink):
            for e in entries:
                sink(e)

        def write(self, entry):
            pass

        def remove(self, integration, sku):
            pass

    with sg.Log(storage=Store(), clock=clock) as log:
        assert log.get(I, "A").acked == 3 and log.get(I, "B").message == "x"
        assert log.counts().total == 2


def test_storage_without_load(clock):
    class Store:
        def write(self, entry):
            return True

        def remove(self, integration, sku):
            return True

    with sg.Log(storage=Store(), clock=clock) as log:
        log.submit(I, "A", 1)
    with pytest.raises(TypeError):
        sg.Log(storage=type("S", (), {"write": lambda self, e: None})())


def test_load_refused_by_the_library(clock):
    """A stored entry the log refuses: its verdict (Corrupt), not a hook error."""
    e = sg.Entry(I, "A", status=sg.EntryStatus.SUCCESS)
    store = sg.MemoryStorage()

    class Twice(sg.MemoryStorage):
        def load(self, sink):
            sink(e)
            sink(e)  # stored twice

    with pytest.raises(sg.Corrupt) as info:
        sg.Log(storage=Twice(), clock=clock)
    assert "twice" in info.value.message and info.value.code == sg.Status.ECORRUPT

    class Swallow(sg.MemoryStorage):
        def load(self, sink):
            for item in (e, e):
                try:
                    sink(item)
                except sg.StockguardError:
                    pass  # a host that ignores the refusal still fails the open

    with pytest.raises(sg.Corrupt):
        sg.Log(storage=Swallow(), clock=clock)

    class Mismatch(sg.MemoryStorage):
        def load(self, sink):
            sink(sg.Entry(I, "A", status=sg.EntryStatus.PENDING))  # pending without a job

    with pytest.raises(sg.Corrupt):
        sg.Log(storage=Mismatch(), clock=clock)
    assert store.writes == 0


def test_load_of_bad_bytes_raises_corrupt(clock):
    store = sg.MemoryStorage()
    store.entries[(I, "A")] = b"SGE garbage"
    with pytest.raises(sg.Corrupt) as info:
        sg.Log(storage=store, clock=clock)
    assert isinstance(info.value.__cause__, sg.StorageError)


def test_storage_write_failure_leaves_memory_as_it_was(clock, transport):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=transport, clock=clock) as log:
        store.fail_writes = True
        with pytest.raises(sg.StorageError) as info:
            log.submit(I, "A", 1, sequence=1)
        assert info.value.code == sg.Status.ESTORAGE and "write" in info.value.message
        assert (I, "A") not in log and len(store) == 0
        store.fail_writes = False
        log.submit(I, "A", 1, sequence=1)
        store.fail_removes = True
        with pytest.raises(sg.StorageError):
            log.remove(I, "A", force=True)
        assert (I, "A") in log
        store.fail_removes = False


def test_acknowledgement_kept_when_its_write_fails_then_flushed(clock, transport):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=transport, clock=clock) as log:
        log.submit(I, "A", 1, sequence=1)
        store.fail_writes = True
        with pytest.raises(sg.StorageError) as info:
            log.pump()
        assert info.value.sent == 1
        assert status(log, "A") == sg.EntryStatus.SUCCESS  # never forgotten
        assert store.get(I, "A").status == sg.EntryStatus.PENDING
        with pytest.raises(sg.StorageError) as info:
            log.flush()
        assert info.value.pending == 1
        store.fail_writes = False
        assert log.flush() == 0
        assert store.get(I, "A").status == sg.EntryStatus.SUCCESS


def test_expire_storage_failure_reports_removed(clock, transport):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=transport, clock=clock, success_max_count=1) as log:
        for s in ("A", "B", "C"):
            log.submit(I, s, 1, sequence=1)
        log.pump()
        store.fail_removes = True
        with pytest.raises(sg.StorageError) as info:
            log.expire()
        assert info.value.removed == 0
        store.fail_removes = False
        assert log.expire() == 2


def test_matching_storage_failure_reports_count(clock, transport):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=transport, clock=clock) as log:
        for s in ("A", "B"):
            log.submit(I, s, 1, sequence=1)
        log.pump()
        store.fail_writes = True
        with pytest.raises(sg.StorageError) as info:
            log.reprocess_matching()
        assert info.value.count == 0
        store.fail_writes = False
        store.fail_removes = True
        with pytest.raises(sg.StorageError) as info:
            log.remove_matching()
        assert info.value.count == 0


def test_set_transport_replaces_and_validates(log, transport):
    other = Transport()
    log.set_transport(other)
    log.submit(I, "A", 1)
    log.pump()
    assert other.jobs and not transport.jobs
    with pytest.raises(TypeError):
        log.set_transport(None)


def test_events_object_and_clock_object(transport):
    class Clock:
        def __init__(self):
            self.t = 42_000

        def now_ms(self):
            return self.t

    class Sink:
        def __init__(self):
            self.seen = []

        def on_event(self, ev):
            self.seen.append(ev)

    c, s = Clock(), Sink()
    with sg.Log(transport=transport, clock=c, events=s) as log:
        with sg.Policy(min_stock=5) as p:
            log.set_policy(I, p)
        log.submit(I, "A", 3)
        assert log.get(I, "A").changed_at == 42_000
        assert s.seen[0].type == sg.EventType.MIN_STOCK_REACHED and s.seen[0].time == 42_000


def test_negative_clock_reads_as_zero(transport):
    with sg.Log(transport=transport, clock=lambda: -5) as log:
        log.submit(I, "A", 1)
        assert log.get(I, "A").changed_at == 0


def test_clock_out_of_int64_is_a_hook_error(transport):
    with sg.Log(transport=transport, clock=lambda: 1 << 70) as log:
        with pytest.raises(sg.OutOfRange):
            log.submit(I, "A", 1)


# ------------------------------------------------------------------ threads
def test_one_log_shared_by_threads_is_serialised(clock):
    import threading

    t = Transport()
    errors = []
    with sg.Log(transport=t, clock=clock) as log:
        def worker(k):
            try:
                for i in range(300):
                    log.submit(I, "T%d-%d" % (k, i), i % 9, sequence=1)
                    if i % 50 == 0:
                        log.pump()
                        list(log.query(page_size=16))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        log.pump()
        assert log.counts().success == 1200 and len(t.jobs) == 1200


def test_policy_evaluated_from_threads(policy):
    import array
    import threading

    policy.min_stock = 5
    data = array.array("q", range(10_000))
    expect = list(policy.evaluate_batch(data).published)
    results = []

    def worker():
        for _ in range(20):
            results.append(list(policy.evaluate_batch(data).published) == expect)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [True] * 80


# ------------------------------------------------------------------ issue 17
def test_query_with_a_bad_argument_raises_at_the_call(log):
    log.submit(I, "A", 1, sequence=1)
    with pytest.raises(sg.InvalidArgument) as info:
        log.query("")                       # no next(): the call itself raises
    assert info.value.message.startswith("integration must be 1 to 1024 bytes")
    with pytest.raises(sg.InvalidArgument) as info:
        log.query(status=7)
    assert "status must be None or one of PENDING, SUCCESS, ERROR, not 7" in info.value.message
    with pytest.raises(ValueError):
        log.query(page_size=0)
    it = log.query()
    log.close()
    assert [e.sku for e in it] == ["A"]     # the first page was read at the call
    with pytest.raises(sg.StateError):
        log.query()


def test_messages_name_the_python_argument_and_value(log):
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit(I, None, 1)
    assert "sku" in info.value.message and "None" in info.value.message
    assert "stg_" not in str(info.value)
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit(I, "x" * 1025, 1)
    assert "sku must be 1 to 1024 bytes, got 1025" in info.value.message
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit("", "A", 1)
    assert "integration" in info.value.message and "''" in info.value.message
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit(I, "A", 1, category="")
    assert info.value.message.startswith("category")
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit_columns(I, ["A", "B", "", "D"], [1, 2, 3, 4])
    assert "skus[2]" in info.value.message and info.value.done == 2
    with pytest.raises(sg.InvalidArgument) as info:
        log.get(I, "")
    assert info.value.message.startswith("Log.get(): ")  # C message, Python name
    assert log.counts().total == 2


def test_submit_without_sequence_numbers_changes_in_arrival_order(log):
    first = log.submit(I, "A", 10)
    second = log.submit(I, "A", 20)
    assert second.decision == sg.Decision.COALESCED
    seq = log.get(I, "A").sequence
    assert seq > 1_600_000_000_000_000      # microseconds since the epoch
    assert sg.next_sequence() > seq
    batch = log.submit_columns(I, ["A", "B"], [30, 40])
    assert list(batch.decisions) == [sg.Decision.COALESCED, sg.Decision.EXPORT]
    assert log.get(I, "B").sequence > log.get(I, "A").sequence > seq
    # an explicit older sequence is still stale, a newer one applies
    assert log.submit(I, "A", 5, sequence=1).decision == sg.Decision.STALE
    assert first.exported


def test_unknown_integration_reads_as_empty_everywhere(log):
    assert log.counts("nobody") == sg.Counts(0, 0, 0, 0, 0, 0)
    st = log.stats("nobody")
    assert st.changes == 0 and st.api_calls_saved == 0 and st.latency_p50_ms is None
    assert not log.is_paused("nobody")
    log.resume("nobody")                    # nothing paused: nothing to do
    with pytest.raises(sg.InvalidArgument):
        log.stats("")                       # a bad name is still refused
    with pytest.raises(sg.InvalidArgument):
        log.resume("")


def test_max_transient_attempts_counts_attempts(clock):
    t = Transport(*[sg.Result.error(503, "down")] * 5)
    with sg.Log(transport=t, clock=clock, max_transient_attempts=3, backoff_base_ms=10,
                backoff_max_ms=10) as log:
        log.submit(I, "A", 5, sequence=1)
        for _ in range(5):
            log.pump()
            clock.advance(100)
        assert len(t.jobs) == 3 and status(log, "A") == sg.EntryStatus.ERROR
    with pytest.warns(DeprecationWarning, match="attempts"):
        sg.Log(max_transient_retries=3).close()
    with pytest.raises(TypeError):
        sg.Log(max_transient_attempts=3, max_transient_retries=3)


def test_result_is_validated_at_construction():
    assert sg.Result.error(503, "x", error_class="transient").error_class == \
        sg.ErrorClass.TRANSIENT
    assert sg.Result.error(error_class="RATE_LIMITED").error_class == sg.ErrorClass.RATE_LIMITED
    with pytest.raises(ValueError, match="unknown error_class 'temporary'"):
        sg.Result.error(503, error_class="temporary")
    with pytest.raises(TypeError):
        sg.Result.error(503, error_class=1.5)
    with pytest.raises(sg.OutOfRange):
        sg.Result.error(1 << 40)
    with pytest.raises(TypeError):
        sg.Result.error(500, message=42)
    assert sg.Result(outcome=9).outcome == 9     # unknown ints pass (newer libraries)
    assert sg.Result.ok() is sg.Result.ok() and sg.Result.ok(200).http_status == 200


def test_submit_columns_equals_one_submit_per_change(clock):
    import array
    import random
    rnd = random.Random(5)
    skus = ["S%d" % rnd.randrange(40) for _ in range(300)]   # repeats: coalesced, skipped
    qty = array.array("q", (rnd.randrange(-2, 30) for _ in skus))
    seq = array.array("q", (rnd.randrange(1, 4) for _ in skus))
    ns = bytes(rnd.randrange(2) for _ in skus)
    cats = [None if i % 3 else "c" for i in range(len(skus))]
    with sg.Policy(min_stock=4) as p:
        p.set_category_min("c", 9)
        one, cols = (sg.Log(clock=clock) for _ in range(2))
        for lg in (one, cols):
            lg.set_policy(I, p)
        expect = [one.submit(I, s, q, sequence=n, non_stock=bool(f), category=c,
                             changed_at=clock.now - 5)
                  for s, q, n, f, c in zip(skus, qty, seq, ns, cats)]
        got = cols.submit_columns(I, skus, qty, seq, non_stock=ns, categories=cats,
                                  changed_at=clock.now - 5)
    assert len(got) == len(expect) and list(got) == expect
    assert list(got.decisions) == [r.decision for r in expect]
    assert list(got.job_ids) == [r.job_id for r in expect]
    assert got.count(sg.Decision.EXPORT) == sum(r.exported for r in expect)
    assert list(one.query()) == list(cols.query())
    one.close()
    cols.close()


def test_submit_columns_calls_of_one_shape_equal_single_submits(clock):
    """submit_columns() skips rewriting a column of one value that the last
    call left in place: calls of one shape whose integration, category,
    changed_at or non_stock change from call to call must still each give
    what single submits give."""
    import array
    skus = ["K%03d" % i for i in range(50)]
    calls = [dict(integration=I), dict(integration="magalu"), dict(integration=I),
             dict(integration=I, categories="c"), dict(integration=I),
             dict(integration=I, changed_at=clock.now - 7), dict(integration=I),
             dict(integration=I, non_stock=bytes([1]) * 50), dict(integration=I)]
    with sg.Policy(min_stock=4) as p:
        p.set_category_min("c", 20)
        one, cols = (sg.Log(clock=clock) for _ in range(2))
        for lg in (one, cols):
            lg.set_policy(I, p)
            lg.set_policy("magalu", p)
        for k, kw in enumerate(calls):
            qty = array.array("q", [(i * 7 + k * 3) % 30 for i in range(50)])
            seq = array.array("q", [k + 1]) * 50
            got = cols.submit_columns(kw["integration"], skus, qty, seq,
                                      categories=kw.get("categories"),
                                      changed_at=kw.get("changed_at"),
                                      non_stock=kw.get("non_stock"))
            expect = [one.submit(kw["integration"], s, q, sequence=k + 1,
                                 category=kw.get("categories"),
                                 changed_at=kw.get("changed_at") or 0,
                                 non_stock="non_stock" in kw)
                      for s, q in zip(skus, qty)]
            assert list(got) == expect, kw
        assert list(one.query()) == list(cols.query())
    one.close()
    cols.close()


def test_submit_columns_buffers_pass_to_the_next_log(clock):
    """A closed log's submit_columns() buffers go to the next log: the
    results a caller still holds from the closed log stay its own, and the
    next log's columns (reused pointers and constants included) are its
    own; a large log's buffers are given back, not kept."""
    import array
    from stockguard import log as log_module
    skus = ["P%04d" % i for i in range(64)]          # one width: pointers reused
    qty = array.array("q", [i % 9 for i in range(64)])
    with sg.Policy(min_stock=4) as p:
        p.set_category_min("c", 6)
        first = sg.Log(clock=clock)
        first.set_policy(I, p)
        held = first.submit_columns(I, skus, qty, array.array("q", [1]) * 64,
                                    categories="c", changed_at=clock.now - 3)
        expect_held = [(r.decision, r.published, r.job_id) for r in held]
        first.close()
        assert log_module._Columns._spare, "the closed log's buffers are kept"
        one, cols = sg.Log(clock=clock), sg.Log(clock=clock)
        for lg in (one, cols):
            lg.set_policy("magalu", p)
        other = ["Q%04d" % i for i in range(64)]
        # 5 publishes 5 at the default minimum (4), 0 at the category's (6)
        got = cols.submit_columns("magalu", other, array.array("q", [5]) * 64,
                                  array.array("q", [2]) * 64)
        expect = [one.submit("magalu", s, 5, sequence=2) for s in other]
        assert list(got) == expect and {r.published for r in got} == {5}
        assert {e.min_source for e in cols.query()} == {sg.MinSource.DEFAULT}
        assert {e.integration for e in cols.query()} == {"magalu"}
        assert [(r.decision, r.published, r.job_id) for r in held] == expect_held
        one.close()
        cols.close()
        # buffers of 200,000 changes (about 30 MiB) are not kept
        big = sg.Log(clock=clock)
        n = 200000
        big.submit_columns(I, ["B%07d" % i for i in range(n)], array.array("q", [5]) * n)
        cols_big = big._columns
        big.close()
        assert all(c is not cols_big for c in log_module._Columns._spare)


def test_submit_columns_inputs(log):
    import array
    r = log.submit_columns([I, "magalu", I], [b"A", "é", "C"], array.array("q", [1, 2, 3]))
    assert [(e.integration, e.sku) for e in log.query()] == [(I, "A"), ("magalu", "é"),
                                                             (I, "C")]
    assert len(r) == 3 and r[-1].job_id == r.job_ids[2] and "3 changes" in repr(r)
    assert len(log.submit_columns(I, [], [])) == 0
    # fixed-width SKUs twice in a row: pointers reused, texts rewritten
    log.submit_columns(I, ["X1", "X2"], [5, 6], [1, 1])
    log.submit_columns(I, ["Y1", "Y2"], [7, 8], [1, 1])
    assert log.get(I, "Y2").available == 8 and log.get(I, "X2").available == 6
    with pytest.raises(ValueError):
        log.submit_columns(I, ["A", "B"], [1])
    with pytest.raises(TypeError):
        log.submit_columns(I, "AB", [1, 2])
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit_columns(I, ["A", None], [1, 2])
    assert "skus[1]" in info.value.message and info.value.done == 0
    with pytest.raises(sg.OutOfRange):
        log.submit_columns(I, ["A"], [1], changed_at=1 << 63)


def test_query_entries_are_light_but_equal_to_get(log, transport):
    _fill(log, transport)
    import dataclasses
    import pickle
    for e in log.query(page_size=2):
        full = log.get(e.integration, e.sku)
        assert e == full and hash(e) == hash(full) and repr(e) == repr(full)
        assert isinstance(e.error_class, sg.ErrorClass) and e.flags == full.flags
        assert pickle.loads(pickle.dumps(e)) == full
        assert dataclasses.replace(e, sku="other").sku == "other"
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.sku = "x"
    with pytest.raises(AttributeError):
        next(iter(log.query())).no_such_member


def test_submit_from_inside_a_hook_is_refused(clock):
    holder = {}
    caught = []

    def on_event(ev):
        for call in (lambda: holder["log"].submit(I, "other", 1),
                     lambda: holder["log"].submit_columns(I, ["other"], [1])):
            try:
                call()
            except sg.Recursive as exc:
                caught.append(exc)

    with sg.Log(clock=clock, events=on_event) as log:
        holder["log"] = log
        with sg.Policy(min_stock=10) as p:
            log.set_policy(I, p)
        log.submit(I, "A", 3, sequence=1)
        assert len(caught) == 2 and (I, "other") not in log
        assert log.get(I, "A").available == 3
        holder.clear()


def test_jobs_handed_in_batches_equal_jobs_handed_one_by_one(clock):
    one, many = Transport(), BatchTransport()
    logs = [sg.Log(transport=t, clock=clock) for t in (one, many)]
    logs[1].set_limits("magalu", batch_size=50)
    logs[1].set_limits(I, batch_size=50)
    for lg in logs:
        for i in range(30):
            lg.submit(I if i % 3 else "magalu", "SKU-é%d" % (i * 7), i % 9, sequence=1,
                      non_stock=i % 4 == 0)
        assert lg.pump() == 30
    key = lambda j: (j.integration, j.sku)  # noqa: E731
    assert many.batches and sorted(one.jobs, key=key) == sorted(many.jobs, key=key)
    assert all(isinstance(j.priority, sg.Priority) and isinstance(j, sg.Job) for j in many.jobs)
    assert any(j.non_stock for j in many.jobs)
    for lg in logs:
        lg.close()


def test_a_kept_submit_batch_survives_the_next_call(log):
    first = log.submit_columns(I, ["A", "B"], [1, 2], [1, 1])
    second = log.submit_columns(I, ["A", "B"], [3, 4], [2, 2])   # reuses the C buffer
    assert list(first.published) == [1, 2] and list(first.decisions) == [1, 1]
    assert list(second.published) == [3, 4] and second[0].decision == sg.Decision.COALESCED
    third = log.submit_columns(I, ["C"], [9], [1])
    assert list(second.reasons) == [sg.Reason.COALESCED] * 2 and third[0].published == 9
    assert len(first) == 2 and first[1].published == 2


def test_submit_batch_without_sequence_gets_automatic_ones(log):
    out = log.submit_batch([(I, "A", 10), sg.Submission(I, "A", 20), {"integration": I,
                                                                      "sku": "A",
                                                                      "available": 3}])
    assert [r.decision for r in out] == [sg.Decision.EXPORT, sg.Decision.COALESCED,
                                         sg.Decision.COALESCED]
    assert log.get(I, "A").available == 3 and log.get(I, "A").sequence > 1 << 40
    with pytest.raises(sg.InvalidArgument) as info:
        log.submit_batch([(I, "B", 1), (I, None, 2)])
    assert "changes[1].sku" in info.value.message and "None" in info.value.message
    assert info.value.done == 1 and (I, "B") in log
