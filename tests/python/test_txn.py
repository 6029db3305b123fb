"""Transactions from Python: MemoryStorage's begin/commit/rollback, the
library's one commit per batch call, Log.transaction(), and the undo of a
failed commit (log.h, stg_log_commit)."""
from __future__ import annotations

import pytest

import stockguard as sg
from conftest import Transport

I = "amazon"


def subs(n, prefix="S", qty=20):
    return [sg.Submission(I, "%s%d" % (prefix, i), qty, sequence=1) for i in range(n)]


def test_a_batch_and_a_pump_are_one_commit_each():
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=Transport()) as log:
        log.submit_batch(subs(30))
        assert (store.begins, store.commits, store.writes) == (1, 1, 30)
        assert log.pump() == 30
        assert store.commits == 2
        assert all(e.status == sg.EntryStatus.SUCCESS for e in log.query())


def test_transaction_groups_single_calls_and_holds_events():
    store = sg.MemoryStorage()
    events = []
    with sg.Log(storage=store, events=events.append) as log:
        log.set_policy(I, sg.Policy(min_stock=5))
        with log.transaction():
            for i in range(10):
                log.submit(I, "W%d" % i, i, sequence=1)
            assert log.in_transaction
            assert store.commits == 0 and len(store) == 10
            assert not events, "events wait for the commit"
            with pytest.raises(sg.StateError):
                log.pump()
        assert not log.in_transaction
        assert store.commits == 1
        assert len([e for e in events if e.type == sg.EventType.MIN_STOCK_REACHED]) == 5


def test_failed_commit_undoes_the_block():
    store = sg.MemoryStorage()
    with sg.Log(storage=store) as log:
        log.submit(I, "A", 30, sequence=1)
        before = log.get(I, "A")
        changes = log.stats(I).changes
        store.fail_next_commits(1)
        with pytest.raises(sg.StorageError) as info:
            with log.transaction():
                log.submit(I, "A", 2, sequence=2)
                log.submit(I, "B", 9, sequence=1)
        assert "undone" in str(info.value)
        assert log.get(I, "A") == before
        with pytest.raises(sg.NotFound):
            log.get(I, "B")
        assert log.stats(I).changes == changes
        assert store.get(I, "A").available == 30 and store.get(I, "B") is None


def test_failed_batch_commit_reports_nothing_done():
    store = sg.MemoryStorage()
    with sg.Log(storage=store) as log:
        store.fail_next_commits(1)
        with pytest.raises(sg.StorageError) as info:
            log.submit_batch(subs(5))
        assert info.value.done == 0
        assert log.counts().pending == 0 and len(store) == 0
        assert len(log.submit_batch(subs(5))) == 5


def test_failed_pump_commit_keeps_the_acknowledgements():
    store = sg.MemoryStorage()
    with sg.Log(storage=store, transport=Transport()) as log:
        log.submit_batch(subs(4))
        store.fail_next_commits(1)
        with pytest.raises(sg.StorageError) as info:
            log.pump()
        assert info.value.sent == 4
        assert log.get(I, "S0").status == sg.EntryStatus.SUCCESS
        assert store.get(I, "S0").status == sg.EntryStatus.PENDING
        assert log.flush() == 0
        assert store.get(I, "S0").status == sg.EntryStatus.SUCCESS


def test_an_exception_in_the_block_commits_what_was_done():
    store = sg.MemoryStorage()
    with sg.Log(storage=store) as log:
        with pytest.raises(KeyError):
            with log.transaction():
                log.submit(I, "K", 3, sequence=1)
                raise KeyError("host gives up")
        assert not log.in_transaction
        assert store.get(I, "K").available == 3


def test_a_store_without_transactions():
    store = sg.MemoryStorage(transactions=False)
    with sg.Log(storage=store) as log:
        with log.transaction():
            log.submit(I, "V", 3, sequence=1)
            assert store.writes == 1, "written at once"
        log.submit_batch(subs(3))
        assert store.begins == 0 and store.writes == 4


def test_half_a_transaction_api_is_refused():
    class Half(sg.MemoryStorage):
        rollback = None
    with pytest.raises(TypeError, match="begin, commit and rollback go together"):
        sg.Log(storage=Half())


def test_nested_begin_and_stray_commit():
    with sg.Log() as log:
        log.begin()
        with pytest.raises(sg.StateError):
            log.begin()
        log.commit()
        with pytest.raises(sg.StateError):
            log.commit()
