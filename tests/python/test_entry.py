"""Entries: the dataclass, and the library's binary encoding."""
from __future__ import annotations

import dataclasses

import pytest

import stockguard as sg


def _entry(**kw):
    base = dict(integration="amazon", sku="SKU-1", status=sg.EntryStatus.ERROR,
                message="expired token", available=12, published=0, acked=5, sequence=99,
                changed_at=1_700_000_000_000, job_since=0, first_failed_at=1_700_000_000_100,
                last_attempt_at=1_700_000_000_200, acked_at=1_600_000_000_000,
                next_attempt_at=0, latency_ms=1234, job_id=(7 << 32) | 3, attempts=4,
                job_state=sg.JobState.NONE, error_class=sg.ErrorClass.REJECTED,
                http_status=422, priority=sg.Priority.URGENT, reason=sg.Reason.LOW_STOCK,
                flags=sg.EntryFlag.MIN_STOCK_REACHED | sg.EntryFlag.HAS_ACKED)
    base.update(kw)
    return sg.Entry(**base)


def test_round_trip():
    e = _entry()
    data = e.encode()
    assert isinstance(data, bytes) and data[:3] == b"SGE" and len(data) <= sg.ENTRY_ENCODED_MAX
    back = sg.decode(data)
    assert back == e and sg.Entry.decode(bytearray(data)) == e
    assert sg.decode(memoryview(data)) == e
    assert back.min_stock_reached and back.has_acked and not back.abnormal and not back.late
    assert back.key == ("amazon", "SKU-1")
    assert isinstance(back.status, sg.EntryStatus) and isinstance(back.flags, sg.EntryFlag)


def test_defaults_match_stg_entry_init():
    e = sg.Entry("i", "s")
    assert e.latency_ms == -1 and e.priority == sg.Priority.NORMAL and e.message is None
    assert e.status == sg.EntryStatus.PENDING and e.job_state == sg.JobState.NONE
    # a pending entry needs a job: the library refuses the mismatch on load, not on encode
    assert sg.decode(e.encode()) == e


def test_unicode_and_long_strings():
    e = _entry(sku="tênis-çã-" + "x" * 1000, message="m" * sg.MESSAGE_MAX)
    assert sg.decode(sg.encode(e)) == e


def test_largest_entry_fits_the_binding_buffer(monkeypatch):
    e = _entry(integration="i" * sg.KEY_MAX, sku="s" * sg.KEY_MAX, message="m" * sg.MESSAGE_MAX,
               job_attempts=3, job_transient=2)
    data = sg.encode(e)
    assert len(data) <= sg.ENTRY_ENCODED_MAX
    assert sg.decode(data) == e
    # a library whose encoding outgrew the binding's constant is asked for the size
    from stockguard import _native
    monkeypatch.setattr(_native, "ENTRY_ENCODED_MAX", 16)
    assert sg.encode(e) == data


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _entry().sku = "x"
    assert dataclasses.replace(_entry(), sku="y").sku == "y"


@pytest.mark.parametrize("kw", [dict(sku=""), dict(integration=""),
                                dict(sku="x" * (sg.KEY_MAX + 1)),
                                dict(message="m" * (sg.MESSAGE_MAX + 1)),
                                dict(status=9), dict(error_class=42)])
def test_encode_refuses_bad_entries(kw):
    with pytest.raises(sg.InvalidArgument) as info:
        _entry(**kw).encode()
    assert info.value.code == sg.Status.EINVAL and info.value.message


def test_encode_refuses_values_c_cannot_hold():
    with pytest.raises(sg.OutOfRange):
        _entry(available=1 << 63).encode()
    with pytest.raises(sg.OutOfRange):
        _entry(job_id=-1).encode()
    with pytest.raises(sg.InvalidArgument):
        _entry(sku="a\0b").encode()


def test_decode_truncated_at_every_length():
    data = _entry().encode()
    for n in range(len(data)):
        with pytest.raises(sg.Truncated) as info:
            sg.decode(data[:n])
        assert info.value.code == sg.Status.ETRUNCATED
        assert isinstance(info.value, sg.Corrupt)


def test_decode_corrupt():
    data = bytearray(_entry().encode())
    for i in (0, 10, len(data) // 2, len(data) - 1):
        bad = bytearray(data)
        bad[i] ^= 0x40
        with pytest.raises(sg.Corrupt):
            sg.decode(bytes(bad))
    with pytest.raises(sg.Corrupt) as info:
        sg.decode(bytes(data) + b"\0")
    assert info.value.code == sg.Status.ECORRUPT


def test_classify_http():
    assert sg.classify_http(401) == sg.ErrorClass.AUTH
    assert sg.classify_http(403) == sg.ErrorClass.AUTH
    assert sg.classify_http(429) == sg.ErrorClass.RATE_LIMITED
    assert sg.classify_http(408) == sg.ErrorClass.TRANSIENT
    assert sg.classify_http(400) == sg.ErrorClass.REJECTED
    assert sg.classify_http(503) == sg.ErrorClass.TRANSIENT
    assert sg.classify_http(0) == sg.ErrorClass.TRANSIENT
    assert isinstance(sg.classify_http(404), sg.ErrorClass)


def test_light_entries_read_from_threads():
    """Entries of a query read their members on first use: from several
    threads at once each must see the same values."""
    import threading
    with sg.Log() as log:
        for i in range(200):
            log.submit("amazon", "S%03d" % i, i, sequence=1)
        entries = list(log.query())
        expect = [(log.get(e.integration, e.sku).available, log.get(e.integration, e.sku).job_id)
                  for e in entries]
    got = {}

    def reader(k):
        got[k] = [(e.available, e.job_id) for e in entries]

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(v == expect for v in got.values()) and len(got) == 4
