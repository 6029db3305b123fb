"""Exceptions raised inside hooks: turned into an error for C, re-raised
after the call, chained to the C error, and the log left as it was."""
from __future__ import annotations

import pytest

import stockguard as sg
from conftest import BatchTransport, Transport

I = "amazon"


class Boom(Exception):
    pass


class RaisingStore(sg.MemoryStorage):
    def __init__(self):
        super().__init__()
        self.raise_on_write = False
        self.raise_on_remove = False

    def write(self, entry):
        if self.raise_on_write:
            raise Boom("disk full")
        return super().write(entry)

    def remove(self, integration, sku):
        if self.raise_on_remove:
            raise Boom("cannot delete")
        return super().remove(integration, sku)


def test_storage_write_exception_is_reraised_and_nothing_changes(clock):
    store = RaisingStore()
    with sg.Log(storage=store, clock=clock) as log:
        log.submit(I, "A", 10, sequence=1)
        before = (log.get(I, "A"), log.counts(), log.stats().changes)
        store.raise_on_write = True
        with pytest.raises(Boom) as info:
            log.submit(I, "A", 3, sequence=2)
        cause = info.value.__cause__
        assert isinstance(cause, sg.StorageError) and cause.code == sg.Status.ESTORAGE
        assert "write" in cause.message
        assert (log.get(I, "A"), log.counts()) == before[:2]
        with pytest.raises(Boom):
            log.submit(I, "B", 3, sequence=1)
        assert (I, "B") not in log and store.get(I, "B") is None
        store.raise_on_write = False
        # no stale exception is left behind for the next call
        assert log.submit(I, "A", 3, sequence=2).decision == sg.Decision.COALESCED
        assert store.get(I, "A").available == 3


def test_storage_remove_exception(clock):
    store = RaisingStore()
    with sg.Log(storage=store, clock=clock) as log:
        log.submit(I, "A", 10, sequence=1)
        store.raise_on_remove = True
        with pytest.raises(Boom) as info:
            log.remove(I, "A", force=True)
        assert isinstance(info.value.__cause__, sg.StorageError)
        assert (I, "A") in log and store.get(I, "A") is not None
        store.raise_on_remove = False
        log.remove(I, "A", force=True)
        assert (I, "A") not in log


def test_storage_load_exception_fails_the_open(clock):
    class Store(sg.MemoryStorage):
        def load(self, sink):
            sink(sg.Entry(I, "A", status=sg.EntryStatus.SUCCESS))
            raise Boom("lost the disk")

    with pytest.raises(Boom) as info:
        sg.Log(storage=Store(), clock=clock)
    assert isinstance(info.value.__cause__, sg.StorageError)
    assert "load" in info.value.__cause__.message


def test_storage_load_wrong_item_type(clock):
    class Store(sg.MemoryStorage):
        def load(self, sink):
            sink(42)

    with pytest.raises(TypeError):
        sg.Log(storage=Store(), clock=clock)


def test_transport_exception_leaves_jobs_queued(clock):
    def send(job):
        raise Boom("connection reset")

    with sg.Log(transport=send, clock=clock) as log:
        log.submit(I, "A", 3, sequence=1)
        before = log.get(I, "A")
        with pytest.raises(Boom) as info:
            log.pump()
        cause = info.value.__cause__
        assert isinstance(cause, sg.TransportError) and cause.code == sg.Status.ETRANSPORT
        assert cause.sent == 0
        after = log.get(I, "A")
        assert after == before  # still queued, no attempt counted
        assert after.job_state == sg.JobState.QUEUED and after.attempts == 0
        assert log.stats().attempts == 0
        log.set_transport(lambda job: sg.Result.ok())
        assert log.pump() == 1 and log.get(I, "A").status == sg.EntryStatus.SUCCESS


def test_transport_exception_stops_the_pump_after_earlier_batches(clock):
    calls = []

    def send(job):
        calls.append(job.sku)
        if len(calls) == 2:
            raise Boom("second call fails")
        return None

    with sg.Log(transport=send, clock=clock) as log:
        log.submit(I, "A", 0, sequence=1)
        log.submit(I, "B", 50, sequence=1)
        log.submit(I, "C", 60, sequence=1)
        with pytest.raises(Boom) as info:
            log.pump()
        assert info.value.__cause__.sent == 1
        assert info.value.sent == 1  # progress on the exception the caller catches (issue 17)
        assert log.counts().success == 1 and log.counts().pending == 2
        assert len(calls) == 2  # the failing call stops the pump


def test_transport_bad_return_type(clock):
    with sg.Log(transport=lambda job: "ok", clock=clock) as log:
        log.submit(I, "A", 3)
        with pytest.raises(TypeError, match="Result"):
            log.pump()
        assert log.get(I, "A").job_state == sg.JobState.QUEUED


def test_send_batch_exceptions(clock):
    class Short(BatchTransport):
        def send_batch(self, jobs):
            return [sg.Result.ok()]  # one result for several jobs

    class Raising(BatchTransport):
        def send_batch(self, jobs):
            raise Boom("batch endpoint down")

    for cls, exc in ((Short, ValueError), (Raising, Boom)):
        with sg.Log(transport=cls(), clock=clock) as log:
            log.set_limits(I, batch_size=5)
            for s in "ABC":
                log.submit(I, s, 1, sequence=1)
            with pytest.raises(exc) as info:
                log.pump()
            assert isinstance(info.value.__cause__, sg.TransportError)
            assert log.counts().pending == 3 and log.stats().attempts == 0


def test_clock_exception_is_reraised_after_the_call(transport):
    ticks = {"n": 0}

    def clock():
        ticks["n"] += 1
        if ticks["n"] == 2:
            raise Boom("clock broke")
        return 5_000

    with sg.Log(transport=transport, clock=clock) as log:
        log.submit(I, "A", 3, sequence=1)
        with pytest.raises(Boom) as info:
            log.submit(I, "B", 3, sequence=1)
        assert info.value.__cause__ is None  # C cannot fail on a clock
        # the clock cannot report failure to C: the last good time was used
        assert log.get(I, "B").changed_at == 5_000
        log.submit(I, "C", 3, sequence=1)


def test_clock_exception_before_any_good_time_uses_the_system_clock(transport):
    import time

    calls = []

    def clock():
        calls.append(1)
        if len(calls) == 1:
            raise Boom("no time yet")
        return 7

    with sg.Log(transport=transport, clock=clock) as log:
        with pytest.raises(Boom):
            log.submit(I, "A", 3)
        assert abs(log.get(I, "A").changed_at - time.time() * 1000) < 60_000


def test_event_exception_is_reraised_after_the_call(clock, transport):
    seen = []

    def on_event(ev):
        seen.append(ev)
        raise Boom("handler bug")

    with sg.Log(transport=transport, clock=clock, events=on_event) as log:
        with sg.Policy(min_stock=10) as p:
            log.set_policy(I, p)
        with pytest.raises(Boom):
            log.submit(I, "A", 3, sequence=1)
        assert len(seen) == 1 and (I, "A") in log  # events cannot fail the call


def test_hook_calling_into_its_log_gets_recursive(clock):
    holder = {}
    caught = []

    def send(job):
        try:
            holder["log"].get(job.integration, job.sku)
        except sg.Recursive as exc:
            caught.append(exc)
            raise

    with sg.Log(transport=send, clock=clock) as log:
        holder["log"] = log
        log.submit(I, "A", 3, sequence=1)
        with pytest.raises(sg.Recursive) as info:
            log.pump()
        assert caught and caught[0].code == sg.Status.ERECURSIVE
        assert isinstance(info.value.__cause__, sg.TransportError)
        assert log.get(I, "A").job_state == sg.JobState.QUEUED
        holder.clear()


def test_hook_may_catch_recursive_and_go_on(clock):
    holder = {}

    def send(job):
        try:
            holder["log"].submit(I, "other", 1)
        except sg.Recursive:
            pass
        return sg.Result.ok()

    with sg.Log(transport=send, clock=clock) as log:
        holder["log"] = log
        log.submit(I, "A", 3, sequence=1)
        assert log.pump() == 1 and (I, "other") not in log
        holder.clear()


def test_close_from_inside_a_hook_is_refused(clock):
    holder = {}

    def send(job):
        holder["log"].close()

    with sg.Log(transport=send, clock=clock) as log:
        holder["log"] = log
        log.submit(I, "A", 3)
        with pytest.raises(sg.Recursive):
            log.pump()
        assert not log.closed and log.counts().pending == 1
        holder.clear()


def test_base_exceptions_cross_too(clock):
    def send(job):
        raise KeyboardInterrupt

    with sg.Log(transport=send, clock=clock) as log:
        log.submit(I, "A", 3)
        with pytest.raises(KeyboardInterrupt):
            log.pump()
        assert log.counts().pending == 1


def test_first_exception_wins_and_later_hooks_fail_fast(clock):
    store = RaisingStore()
    seen = []

    def on_event(ev):
        seen.append(ev)

    with sg.Log(storage=store, clock=clock, events=on_event) as log:
        with sg.Policy(min_stock=10) as p:
            log.set_policy(I, p)
        store.raise_on_write = True
        with pytest.raises(Boom):
            log.submit(I, "A", 3)
        assert seen == []  # the write failed first: the change (and its event) never happened


def test_open_hook_exception_frees_hooks(clock):
    import gc
    import weakref

    class Store(sg.MemoryStorage):
        def load(self, sink):
            raise Boom("x")

    store = Store()
    ref = weakref.ref(store)
    with pytest.raises(Boom):
        sg.Log(storage=store, clock=clock)
    del store
    gc.collect()
    assert ref() is None


def test_hooks_freed_on_close_without_gc(clock):
    import gc
    import weakref

    t = Transport()
    ref = weakref.ref(t)
    gc.disable()
    try:
        log = sg.Log(transport=t, clock=clock)
        log.submit(I, "A", 1)
        log.pump()
        del t
        assert ref() is not None  # the log keeps its hook alive
        log.close()
        assert ref() is None  # and lets go at close, with no cycle for the GC
    finally:
        gc.enable()


def test_hooks_kept_alive_while_open(clock):
    import gc

    class T:
        def send(self, job):
            return sg.Result.ok()

    log = sg.Log(transport=T(), clock=sg.ManualClock(), events=lambda e: None,
                 storage=sg.MemoryStorage())
    gc.collect()
    log.submit(I, "A", 1)
    assert log.pump() == 1
    log.close()


# ------------------------------------------------------------------ issue 17
# A raising clock or event handler is recorded and re-raised after the call,
# but only storage and transport failures stop the rest of the call.

def test_raising_event_handler_does_not_stop_the_pump(clock):
    store = sg.MemoryStorage()
    t = Transport()
    seen = []

    def on_event(ev):
        seen.append(ev.sku)
        raise Boom("handler bug")

    with sg.Log(storage=store, transport=t, clock=clock, events=on_event,
                latency_limit_ms=1000) as log:
        for s in "ABC":
            log.submit(I, s, 50, sequence=1)
        clock.advance(5000)  # every ack is abnormal: one event per job
        writes = store.writes
        with pytest.raises(Boom) as info:
            log.pump()
        assert info.value.sent == 3            # progress on the exception caught
        assert [j.sku for j in t.jobs] == ["A", "B", "C"] and len(seen) == 3
        assert store.writes == writes + 3      # every result was written
        assert log.counts().success == 3 and store.get(I, "C").status == sg.EntryStatus.SUCCESS


def test_raising_event_handler_does_not_drop_the_rest_of_a_batch(clock):
    store = sg.MemoryStorage()

    def on_event(ev):
        raise Boom("handler bug")

    with sg.Log(storage=store, clock=clock, events=on_event) as log:
        with sg.Policy(min_stock=10) as p:
            log.set_policy(I, p)
        with pytest.raises(Boom) as info:  # A raises min_stock_reached first
            log.submit_batch([(I, "A", 3, 1), (I, "B", 50, 1), (I, "C", 4, 1)])
        assert info.value.done == 3 and len(info.value.results) == 3
        assert len(store) == 3 and log.counts().pending == 3
        with pytest.raises(Boom) as info:
            log.submit_columns(I, ["D", "E"], [1, 2])
        assert info.value.done == 2 and len(store) == 5


def test_clock_raising_once_does_not_stop_the_pump(transport):
    ticks = {"n": 0, "fail_at": None}

    def clock():
        ticks["n"] += 1
        if ticks["n"] == ticks["fail_at"]:
            raise Boom("clock glitch")
        return 5_000

    with sg.Log(transport=transport, clock=clock) as log:
        for s in "ABC":
            log.submit(I, s, 3, sequence=1)
        ticks["fail_at"] = ticks["n"] + 1   # the pump's first reading fails
        with pytest.raises(Boom) as info:
            log.pump()
        assert info.value.sent == 3 and len(transport.jobs) == 3
        assert log.counts().success == 3


def test_storage_failure_still_stops_the_rest_of_the_call(clock):
    store = RaisingStore()
    t = Transport()
    with sg.Log(storage=store, transport=t, clock=clock) as log:
        for s in "AB":
            log.submit(I, s, 3, sequence=1)
        store.raise_on_write = True
        with pytest.raises(Boom) as info:
            log.submit_batch([(I, "C", 1, 1), (I, "D", 1, 1)])
        assert info.value.done == 0 and (I, "D") not in log
        assert isinstance(info.value.__cause__, sg.StorageError)
        assert info.value.__cause__.done == 0


def test_memory_storage_fails_the_next_n_writes(clock, transport):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=transport, clock=clock) as log:
        store.fail_next_writes(2)
        for s in "AB":
            with pytest.raises(sg.StorageError):
                log.submit(I, s, 1, sequence=1)
        log.submit(I, "C", 1, sequence=1)   # the third write succeeds again
        assert store.failed_writes == 2 and store.writes == 1 and len(store) == 1
        store.fail_next_removes(1)
        with pytest.raises(sg.StorageError):
            log.remove(I, "C", force=True)
        log.remove(I, "C", force=True)
        assert store.failed_removes == 1 and len(store) == 0
        store.fail_next_writes(3)
        store.fail_next_writes(0)           # cancelled
        log.submit(I, "D", 1, sequence=1)
        with pytest.raises(ValueError):
            store.fail_next_writes(-1)
