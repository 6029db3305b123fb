"""Rate limits through the binding: scope cool-downs, the adaptive bucket,
the announced quota, the stored manual pause and the calls saved by
coalescing (issue 14, sections 1 and 5)."""
from __future__ import annotations

import pytest

import stockguard as sg
from conftest import BatchTransport, Transport

I = "amazon"


def fill(log, n, integration=I):
    for k in range(n):
        log.submit(integration, "SKU-%04d" % k, 100 + k, sequence=1)


def test_one_call_per_cooldown(clock):
    t = Transport()
    t.default = sg.Result.error(429, "Too Many Requests", retry_after_ms=30_000)
    with sg.Log(transport=t, clock=clock) as log:
        fill(log, 1000)
        assert log.pump() == 1 and len(t.jobs) == 1, "one call into the exhausted limit"
        assert log.pump() == 0 and log.next_due() == 30_000
        st = log.limit_state(I)
        assert st.cooling_until == clock.now + 30_000 and st.cooldowns == 1 and not st.shared
        clock.advance(30_000)
        assert log.pump() == 1 and log.stats().cooldowns == 2
        assert log.get(I, "SKU-0999").attempts == 0, "waiting jobs count no attempt"


def test_shared_scope(clock):
    t = Transport(sg.Result.error(429, retry_after_ms=2000))
    with sg.Log(transport=t, clock=clock) as log:
        log.set_limit_scope("amz-s1", "amz-app")
        log.set_limit_scope("amz-s2", "amz-app")
        log.submit("amz-s1", "A", 10, sequence=1)
        log.submit("amz-s2", "B", 10, sequence=1)
        assert log.pump() == 1, "the 429 cools down the other seller too"
        assert log.limit_state("amz-s2").shared and log.limit_state("amz-s2").cooling_until
        log.set_limit_scope("amz-s2")  # back to its own scope
        assert log.pump() == 1 and t.jobs[-1].sku == "B"


def test_aimd_and_announced_quota(clock):
    t = Transport(sg.Result.error(429, retry_after_ms=10))
    with sg.Log(transport=t, clock=clock) as log:
        log.set_limits(I, 1, 100, 1000)
        fill(log, 3)
        log.pump()
        assert log.limit_state(I).rate_per_s == pytest.approx(87.5)
        assert log.limit_state(I).ceiling_per_s == pytest.approx(100)
        # The marketplace announces 5 per second: the bucket follows it.
        t.default = sg.Result.ok(quota_limit=5, quota_window_ms=1000)
        clock.advance(1000)
        log.pump()
        st = log.limit_state(I)
        assert st.announced_per_s == pytest.approx(5) and st.rate_per_s == pytest.approx(5)


def test_quota_remaining_zero_holds_until_reset(clock):
    t = BatchTransport()
    t.default = sg.Result.ok(quota_limit=50, quota_remaining=0, quota_reset_ms=4000)
    with sg.Log(transport=t, clock=clock) as log:
        fill(log, 5)
        assert log.pump(max_jobs=1) == 1 and log.pump() == 0
        assert log.next_due() >= 4000


def test_bad_input_is_refused():
    for kwargs in ({"quota_limit": -1}, {"quota_window_ms": 86_400_001},
                   {"quota_remaining": -2}, {"quota_reset_ms": -1}):
        with pytest.raises(ValueError):
            sg.Result.ok(**kwargs)
    with sg.Log() as log:
        with pytest.raises(sg.InvalidArgument) as info:
            log.set_limit_scope(I, "")
        assert "scope" in info.value.message
        with pytest.raises(sg.NotFound):
            log.limit_state(I)  # nothing was created


def test_manual_pause_survives_a_new_log(clock):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, clock=clock, transport=Transport()) as log:
        log.submit(I, "A", 5, sequence=1)
        log.pause(I)
    assert store.integrations[I].paused
    with sg.Log(storage=store, clock=clock, transport=Transport()) as log:
        assert log.is_paused(I) and log.pump() == 0
        log.resume(I)
        assert log.pump() == 1
    assert not store.integrations[I].paused
    with sg.Log(storage=store, clock=clock) as log:
        assert not log.is_paused(I)


def test_manual_pause_write_failure(clock):
    store = sg.MemoryStorage()
    with sg.Log(storage=store, clock=clock) as log:
        log.submit(I, "A", 5, sequence=1)
        store.fail_next_writes(1)
        with pytest.raises(sg.StorageError):
            log.pause(I)
        assert not log.is_paused(I)


def test_storage_needs_both_integration_functions():
    class Half(sg.MemoryStorage):
        load_integrations = None  # type: ignore[assignment]

    with pytest.raises(TypeError):
        sg.Log(storage=Half())


def test_calls_saved_by_coalescing(log, transport):
    log.submit(I, "A", 100, sequence=1)
    log.submit(I, "A", 90, sequence=2)
    log.submit(I, "A", 80, sequence=3)
    log.pump()
    s = log.stats()
    assert s.coalesced == 2 and s.saved_by_coalescing == 2 and s.api_calls_saved == 0
