"""The export-change filter, one change and in batches over buffers."""
from __future__ import annotations

import array
import ctypes
import itertools
import struct

import pytest

import stockguard as sg


# ------------------------------------------------------------------ one change
@pytest.mark.parametrize("from_,to,kw,decision,reason", [
    (None, 50, {}, sg.Decision.EXPORT, sg.Reason.FIRST_SEEN),
    (40, 50, {"non_stock": True}, sg.Decision.EXPORT, sg.Reason.NON_STOCK_CHANGE),
    (50, 50, {}, sg.Decision.SKIP, sg.Reason.NO_CHANGE),
    (10, 4, {}, sg.Decision.EXPORT, sg.Reason.LOW_STOCK),
    (5, 30, {}, sg.Decision.EXPORT, sg.Reason.LOW_STOCK),
    (40, 30, {}, sg.Decision.SKIP, sg.Reason.OUTSIDE_WINDOW),
])
def test_documented_rule(policy, from_, to, kw, decision, reason):
    r = sg.decide(policy, to, from_, **kw)
    assert (r.decision, r.reason) == (decision, reason)
    assert r.export == (decision == sg.Decision.EXPORT)
    assert r.to.available == to and isinstance(r.to, sg.Evaluation)
    assert policy.decide(to, from_, **kw) == r


def test_cutoff_is_never_hidden_by_the_filter(policy):
    policy.min_stock = 10
    r = policy.decide(9, 12)
    assert (r.from_.published, r.to.published) == (12, 0)
    assert r.decision == sg.Decision.EXPORT and r.reason == sg.Reason.LOW_STOCK
    assert r.warnings == sg.WarningFlag.MIN_STOCK_REACHED
    first = policy.decide(12)
    assert first.from_.published == 0 and first.reason == sg.Reason.FIRST_SEEN


def test_drift_and_heartbeat(policy):
    assert policy.decide(150, 100).reason == sg.Reason.OUTSIDE_WINDOW
    policy.drift = 50
    assert policy.decide(150, 100).reason == sg.Reason.DRIFT
    assert policy.decide(120, 100).reason == sg.Reason.OUTSIDE_WINDOW
    policy.heartbeat_ms = 1000
    assert policy.decide(120, 100, since_export_ms=5000).reason == sg.Reason.HEARTBEAT
    assert policy.decide(120, 100, since_export_ms=10).reason == sg.Reason.OUTSIDE_WINDOW
    assert policy.decide(120, 100).reason == sg.Reason.OUTSIDE_WINDOW  # age unknown


def test_overrides_reach_the_filter(policy):
    policy.set_sku_min("A", 100)
    policy.set_category_min("c", 50)
    assert policy.decide(60, 70, sku="A").to.published == 0
    assert policy.decide(60, 70, category="c").to.min_source == sg.MinSource.CATEGORY


def test_decide_errors(policy):
    with pytest.raises(TypeError):
        sg.decide("not a policy", 1)
    with pytest.raises(sg.OutOfRange):
        policy.decide(1 << 63)
    with pytest.raises(sg.InvalidArgument):
        policy.decide(1, sku="a\0")
    policy.close()
    with pytest.raises(sg.StateError):
        sg.decide(policy, 1)


# ------------------------------------------------------------------ batches
GRID_FROM = [-3, 0, 3, 5, 6, 9, 10, 11, 12, 20, 40]
GRID_TO = [-1, 0, 2, 5, 6, 10, 11, 14, 30, 40]


def _grid():
    pairs = list(itertools.product(GRID_FROM, GRID_TO))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_batch_matches_one_by_one_on_a_grid(policy):
    policy.min_stock = 10
    policy.drift = 30
    frm, to = _grid()
    n = len(to)
    has_from = [i % 3 != 0 for i in range(n)]
    non_stock = [i % 7 == 0 for i in range(n)]
    since = array.array("q", [(-1 if i % 2 else i * 100) for i in range(n)])
    policy.heartbeat_ms = 2000
    skus = ["S%d" % (i % 4) if i % 5 else None for i in range(n)]
    policy.set_sku_min("S1", 3)
    out = policy.filter_batch(array.array("q", to), array.array("q", frm), has_from=has_from,
                              non_stock=non_stock, since_export_ms=since, skus=skus)
    assert len(out) == n
    for i in range(n):
        one = policy.decide(to[i], frm[i] if has_from[i] else None, non_stock=non_stock[i],
                            since_export_ms=since[i], sku=skus[i])
        assert out.decisions[i] == one.decision, i
        assert out.reasons[i] == one.reason, i
        assert out.published_to[i] == one.to.published, i
        assert out.warnings[i] == one.to.warnings, i
    assert out.exports == sum(1 for d in out.decisions if d == sg.Decision.EXPORT)
    assert isinstance(out.decisions, array.array) and out.decisions.typecode == "B"
    assert out.published_to.typecode == "q"


def _as_inputs(values):
    """The same int64 values through every supported buffer kind."""
    arr = array.array("q", values)
    raw = arr.tobytes()
    ct = (ctypes.c_int64 * len(values))(*values)
    return {
        "array": arr,
        "memoryview": memoryview(array.array("q", values)),
        "readonly-memoryview": memoryview(raw).cast("q"),
        "bytes": raw,
        "bytearray": bytearray(raw),
        "ctypes(<q)": ct,
        "list": list(values),
        "tuple": tuple(values),
        "2-D memoryview": memoryview(bytearray(raw)).cast("B").cast("q", [2, len(values) // 2]),
    }


@pytest.mark.parametrize("kind", list(_as_inputs([0] * 8)))
def test_batches_take_every_buffer_kind(policy, kind):
    policy.min_stock = 4
    values = [-2, 0, 3, 4, 5, 9, 100, 7]
    expect = [policy.evaluate(v).published for v in values]
    ev = policy.evaluate_batch(_as_inputs(values)[kind])
    assert list(ev.published) == expect
    assert list(ev.warnings) == [int(policy.evaluate(v).warnings) for v in values]
    frm = _as_inputs([10] * 8)[kind]
    fb = policy.filter_batch(_as_inputs(values)[kind], frm)
    assert list(fb.published_to) == expect
    assert list(fb.reasons) == [policy.decide(v, 10).reason for v in values]


def test_inputs_are_not_modified_and_outputs_are_fresh(policy):
    to = array.array("q", [1, 2, 3])
    before = to.tobytes()
    a = policy.evaluate_batch(to)
    b = policy.evaluate_batch(to)
    assert to.tobytes() == before and a.published is not b.published


def test_first_seen_batch_without_from(policy):
    out = policy.filter_batch(array.array("q", [1, 50]))
    assert list(out.reasons) == [sg.Reason.FIRST_SEEN] * 2
    out = policy.filter_batch([1, 50], None, has_from=b"\0\0")
    assert list(out.reasons) == [sg.Reason.FIRST_SEEN] * 2


def test_has_from_and_non_stock_buffers(policy):
    to = array.array("q", [40, 40, 40])
    frm = array.array("q", [30, 30, 30])
    for has_from in (b"\x00\x01\x01", bytearray(b"\x00\x01\x01"), array.array("B", [0, 1, 1]),
                     [False, True, True], memoryview(b"\x00\x01\x01")):
        out = policy.filter_batch(to, frm, has_from=has_from, non_stock=[0, 0, 1])
        assert list(out.reasons) == [sg.Reason.FIRST_SEEN, sg.Reason.OUTSIDE_WINDOW,
                                     sg.Reason.NON_STOCK_CHANGE]


def test_empty_batches(policy):
    assert len(policy.evaluate_batch(array.array("q"))) == 0
    assert len(policy.evaluate_batch(b"")) == 0
    assert len(policy.filter_batch([], [])) == 0
    assert len(policy.filter_batch(array.array("q"))) == 0


def test_large_batch(policy):
    policy.min_stock = 10
    n = 100_000
    to = array.array("q", range(n))
    out = policy.filter_batch(to, to)
    assert len(out) == n and out.exports == 0 and out.published_to[5] == 0
    assert out.published_to[n - 1] == n - 1


@pytest.mark.parametrize("bad,exc,words", [
    (array.array("i", [1, 2]), TypeError, "format 'i'"),
    (array.array("Q", [1, 2]), TypeError, "format 'Q'"),
    (array.array("d", [1.0]), TypeError, "8-byte signed"),
    (b"1234567", ValueError, "whole number"),
    (memoryview(array.array("q", [1, 2, 3, 4]))[::2], ValueError, "C-contiguous"),
    ([1, "x"], TypeError, "int64"),
    ([1 << 64], OverflowError, ""),
    (3.5, TypeError, "float"),
])
def test_bad_buffers_are_rejected(policy, bad, exc, words):
    with pytest.raises(exc) as info:
        policy.evaluate_batch(bad)
    assert words in str(info.value)


def test_length_mismatches_are_rejected(policy):
    to = array.array("q", [1, 2, 3])
    with pytest.raises(ValueError, match="from_ has 2 items, expected 3"):
        policy.filter_batch(to, array.array("q", [1, 2]))
    with pytest.raises(ValueError, match="has_from has 2 items"):
        policy.filter_batch(to, to, has_from=b"\1\1")
    with pytest.raises(ValueError, match="non_stock"):
        policy.filter_batch(to, to, non_stock=[1])
    with pytest.raises(ValueError, match="since_export_ms"):
        policy.filter_batch(to, to, since_export_ms=[1])
    with pytest.raises(ValueError, match="skus has 1 items"):
        policy.filter_batch(to, to, skus=["a"])
    with pytest.raises(ValueError, match="categories"):
        policy.evaluate_batch(to, categories=["a", "b"])
    with pytest.raises(TypeError, match="single key"):
        policy.evaluate_batch(to, skus="abc")
    with pytest.raises(TypeError, match="1-byte"):
        policy.filter_batch(to, to, has_from=array.array("q", [1, 1, 1]))
    with pytest.raises(TypeError):
        policy.filter_batch(to, to, has_from=5)
    with pytest.raises(TypeError):
        sg.filter_batch(None, to)


def test_raw_bytes_are_native_int64():
    with sg.Policy() as p:
        raw = struct.pack("=3q", 7, -1, 1 << 40)
        assert list(p.evaluate_batch(raw).published) == [7, 0, 1 << 40]


def test_numpy_when_present(policy):
    np = pytest.importorskip("numpy")
    a = np.array([1, 20, -3], dtype=np.int64)
    out = policy.evaluate_batch(a)
    assert list(out.published) == [1, 20, 0]
    assert list(np.frombuffer(out.published, dtype=np.int64)) == [1, 20, 0]
    with pytest.raises(TypeError):
        policy.evaluate_batch(a.astype(np.int32))


def test_out_is_filled_in_place_and_reused(policy):
    policy.min_stock = 3
    to = array.array("q", [1, 4, 50, 60, 2])
    frm = array.array("q", [9, 4, 49, 2, 2])
    fresh = policy.filter_batch(to, frm)
    out = sg.FilterBatch.empty(len(to))
    # Stale content must be overwritten, not merged.
    for a in (out.decisions, out.reasons, out.warnings):
        a[0] = 0xEE
    out.published_to[0] = -77
    got = policy.filter_batch(to, frm, out=out)
    assert got is out
    assert (out.decisions, out.reasons, out.published_to, out.warnings) == \
        (fresh.decisions, fresh.reasons, fresh.published_to, fresh.warnings)
    # A second batch of the same length lands in the same arrays.
    again = policy.filter_batch(frm, to, out=out)
    assert again is out and list(out.published_to) == [policy.evaluate(v).published for v in frm]


def test_out_of_the_wrong_shape_is_refused_before_the_call(policy):
    to = array.array("q", [1, 2, 3])
    with pytest.raises(ValueError, match="out.decisions has 2 items, expected 3"):
        policy.filter_batch(to, to, out=sg.FilterBatch.empty(2))
    bad = sg.FilterBatch.empty(3)
    bad = sg.FilterBatch(bad.decisions, bad.reasons, array.array("l", [0, 0, 0])
                         if array.array("l").itemsize != 8 else array.array("i", [0, 0, 0]),
                         bad.warnings)
    with pytest.raises(TypeError, match="out.published_to must be an array\\('q'\\)"):
        policy.filter_batch(to, to, out=bad)
    with pytest.raises(TypeError, match="out must be a FilterBatch"):
        policy.filter_batch(to, to, out=[])
    with pytest.raises(ValueError):
        sg.FilterBatch.empty(-1)
    assert len(sg.FilterBatch.empty(0)) == 0
    assert len(policy.filter_batch(array.array("q"), array.array("q"),
                                   out=sg.FilterBatch.empty(0))) == 0


def test_decide_evaluations_equal_evaluate_across_policies():
    """decide() reads its evaluations in one unpack and reuses equal ones:
    each must still be the policy's own evaluation of that quantity."""
    with sg.Policy(min_stock=3) as a, sg.Policy(min_stock=10, mode="reserve") as b:
        for p in (a, b, a):
            for frm in (-2, 0, 3, 4, 11, 40):
                for to in (0, 2, 3, 10, 12, 41):
                    r = p.decide(to, frm)
                    assert r.to == p.evaluate(to) and r.from_ == p.evaluate(frm)
                    assert isinstance(r.to.rule, sg.Rule) and isinstance(r.decision, sg.Decision)
                    assert r.warnings == p.evaluate(to).warnings
        assert b.decide(12, 40, non_stock=True).reason == sg.Reason.NON_STOCK_CHANGE
        assert a.decide(5).from_ == sg.Evaluation(0, 0, 0, 0, 0, 0)


def test_decide_options_do_not_stick_to_the_next_call(policy):
    """decide() writes only from and to in the common case: a call with a
    first-seen change, non_stock, texts or an age must leave the prepared
    change as it found it."""
    policy.set_sku_min("A", 100)
    policy.set_category_min("c", 65)
    policy.heartbeat_ms = 1000
    plain = policy.decide(60, 70)
    for kw in ({"sku": "A"}, {"category": "c"}, {"non_stock": True},
               {"since_export_ms": 5000}):
        assert policy.decide(60, 70, **kw) != plain, kw
        assert policy.decide(60, 70) == plain
        assert policy.decide(60).reason == sg.Reason.FIRST_SEEN
        assert policy.decide(60, 70) == plain
    with pytest.raises(sg.InvalidArgument):
        policy.decide(60, 70, sku="a\0")
    assert policy.decide(60, 70) == plain
    with pytest.raises(sg.OutOfRange):
        policy.decide(1 << 63, 70)
    with pytest.raises(sg.OutOfRange):
        policy.decide(60, -(1 << 63) - 1)
    with pytest.raises(TypeError):
        policy.decide(60, 7.5)
    assert policy.decide(60, 70) == plain


def test_decide_on_a_closed_policy_raises_state_error(policy):
    policy.decide(3, 4)
    policy.close()
    with pytest.raises(sg.StateError):
        policy.decide(3, 4)
    with pytest.raises(sg.StateError):
        policy.decide(3)


def test_decide_from_threads_at_once():
    """decide() takes its structs from a pool: threads never share a set."""
    import threading

    with sg.Policy(min_stock=3) as a, sg.Policy(min_stock=10, window=20) as b:
        cases = [(p, to, frm) for p in (a, b) for frm in range(-2, 30, 3) for to in range(0, 40, 7)]
        expect = [(p.evaluate(to), p.evaluate(frm)) for p, to, frm in cases]
        bad = []

        def worker(k):
            for _ in range(30):
                for (p, to, frm), (ev_to, ev_from) in zip(cases[k:] + cases[:k],
                                                          expect[k:] + expect[:k]):
                    r = p.decide(to, frm)
                    if r.to != ev_to or r.from_ != ev_from:
                        bad.append((to, frm))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert bad == []
