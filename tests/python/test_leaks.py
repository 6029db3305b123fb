"""Leak check: many open/close cycles of Log (with every hook, including
failing ones) and Policy keep the resident set size stable."""
from __future__ import annotations

import array
import gc
import os

import pytest

import stockguard as sg
from conftest import BatchTransport

PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP = 300
CYCLES = 3000
#: allowed growth over CYCLES cycles after the warm-up: noise from the
#: allocator and interpreter caches, far below one leaked closure per cycle
LIMIT = 512 * 1024


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Boom(Exception):
    pass


def log_cycle(i: int) -> None:
    store = sg.MemoryStorage()
    transport = BatchTransport(sg.Result.error(503, "down"), sg.Result.pending())
    seen = []
    clock = sg.ManualClock()
    with sg.Log(storage=store, transport=transport, clock=clock, events=seen.append) as log:
        with sg.Policy(min_stock=3) as p:
            log.set_policy("amazon", p)
        log.set_limits("amazon", batch_size=4)
        log.submit_batch([("amazon", "S%d" % k, k, 1) for k in range(12)])
        log.pump()
        list(log.query(page_size=5))
        log.stats()
        log.counts()
        store.fail_writes = True  # a failing storage hook
        try:
            log.submit("amazon", "X", 1, sequence=2)
        except sg.StorageError:
            pass
        store.fail_writes = False
    # reopen from storage, with a hook that raises
    def send(job):
        raise Boom("x")
    with sg.Log(storage=store, transport=send, clock=clock) as log:
        try:
            log.pump()
        except Boom:
            pass
    try:  # a failing open
        sg.Log(storage=type("S", (sg.MemoryStorage,), {"load": lambda self, sink: 1 / 0})())
    except ZeroDivisionError:
        pass


def policy_cycle(i: int) -> None:
    with sg.Policy(min_stock=i % 7, allocation=90) as p:
        p.set_sku_min("A%d" % i, 2)
        p.set_category_min("c", 4)
        p.evaluate_batch(array.array("q", range(64)), skus=["A%d" % i] * 64)
        p.filter_batch(array.array("q", range(64)), array.array("q", range(64, 0, -1)))
        p.copy().close()
        try:
            p.min_stock = -1
        except sg.OutOfRange:
            pass
    sg.decode(sg.Entry("a", "b").encode())


@pytest.mark.parametrize("cycle", [log_cycle, policy_cycle], ids=["log", "policy"])
def test_rss_is_stable(cycle):
    if not os.path.exists("/proc/self/statm"):
        pytest.fail("the leak check needs /proc/self/statm (Linux)")
    for i in range(WARMUP):
        cycle(i)
    gc.collect()
    before = rss()
    for i in range(CYCLES):
        cycle(i)
    gc.collect()
    after = rss()
    growth = after - before
    print("\n%s: %d cycles, RSS %d KiB -> %d KiB, growth %d KiB (limit %d KiB)"
          % (cycle.__name__, CYCLES, before // 1024, after // 1024, growth // 1024,
             LIMIT // 1024))
    assert growth < LIMIT
