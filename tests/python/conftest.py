"""Shared fixtures for the Python binding tests.

Run from the build tree (meson does this: `meson test --suite python`):

    STOCKGUARD_LIBRARY=build/lib/libstockguard.so.1 PYTHONPATH=bindings/python \
        /usr/bin/python3 -m pytest -q tests/python
"""
from __future__ import annotations

import collections
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINDINGS = os.path.join(ROOT, "bindings", "python")

try:
    import stockguard  # noqa: F401
except ImportError:
    if BINDINGS not in sys.path:
        sys.path.insert(0, BINDINGS)
    import stockguard  # noqa: F401

import stockguard as sg  # noqa: E402


class Transport:
    """A scripted transport: replies from ``script`` (a deque of Results, or
    callables taking the job) and records every job it was handed."""

    def __init__(self, *replies):
        self.jobs = []
        self.batches = []
        self.script = collections.deque(replies)
        self.default = sg.Result.ok()

    def reply(self, job):
        if self.script:
            r = self.script.popleft()
            return r(job) if callable(r) else r
        return self.default

    def send(self, job):
        self.jobs.append(job)
        return self.reply(job)


class BatchTransport(Transport):
    def send_batch(self, jobs):
        self.batches.append(list(jobs))
        self.jobs.extend(jobs)
        return [self.reply(j) for j in jobs]


class Events(list):
    def __call__(self, event):
        self.append(event)

    def of(self, kind):
        return [e for e in self if e.type == kind]


@pytest.fixture
def clock():
    return sg.ManualClock(1_000_000)


@pytest.fixture
def transport():
    return Transport()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def log(clock, transport, events):
    with sg.Log(transport=transport, clock=clock, events=events) as lg:
        yield lg


@pytest.fixture
def policy():
    with sg.Policy() as p:
        yield p
