"""Policy: settings, overrides, evaluation, explanation, lifetime, errors."""
from __future__ import annotations

import copy

import pytest

import stockguard as sg

DEFAULTS = dict(min_stock=0, mode=sg.Mode.CUTOFF, allocation=100, cap=0, window=5, drift=0,
                heartbeat_ms=0)


def test_defaults(policy):
    for name, value in DEFAULTS.items():
        assert getattr(policy, name) == value
    assert isinstance(policy.mode, sg.Mode)
    assert policy.errmsg == ""
    assert "min_stock=0" in repr(policy)


@pytest.mark.parametrize("name,value", [("min_stock", 7), ("allocation", 50), ("cap", 40),
                                        ("window", 9), ("drift", 25), ("heartbeat_ms", 60000),
                                        ("min_stock", sg.QUANTITY_MAX)])
def test_setters_round_trip(policy, name, value):
    setattr(policy, name, value)
    assert getattr(policy, name) == value


@pytest.mark.parametrize("name,bad,exc", [
    ("min_stock", -1, sg.OutOfRange), ("min_stock", sg.QUANTITY_MAX + 1, sg.OutOfRange),
    ("allocation", 0, sg.OutOfRange), ("allocation", 101, sg.OutOfRange),
    ("cap", -1, sg.OutOfRange), ("window", -3, sg.OutOfRange), ("drift", 10001, sg.OutOfRange),
    ("drift", -1, sg.OutOfRange), ("heartbeat_ms", -1, sg.OutOfRange),
    ("mode", 7, sg.OutOfRange)])
def test_invalid_settings_are_refused_and_previous_kept(policy, name, bad, exc):
    before = getattr(policy, name)
    with pytest.raises(exc) as info:
        setattr(policy, name, bad)
    assert info.value.code == sg.Status.ERANGE
    assert info.value.message and info.value.message == policy.errmsg
    assert getattr(policy, name) == before


def test_values_that_do_not_fit_c_are_refused_before_c(policy):
    with pytest.raises(sg.OutOfRange) as info:
        policy.min_stock = 1 << 64          # ctypes alone would truncate this to 0
    assert "does not fit" in info.value.message
    with pytest.raises(sg.OutOfRange):
        policy.allocation = (1 << 32) + 50  # would truncate to 50
    assert policy.min_stock == 0 and policy.allocation == 100
    with pytest.raises(TypeError):
        policy.cap = 1.5
    with pytest.raises(TypeError):
        policy.evaluate("12")


def test_mode_by_name(policy):
    policy.mode = "reserve"
    assert policy.mode is sg.Mode.RESERVE
    policy.mode = sg.Mode.CUTOFF
    assert policy.mode is sg.Mode.CUTOFF
    with pytest.raises(ValueError):
        policy.mode = "sideways"


def test_constructor_settings_and_overrides():
    with sg.Policy(min_stock=10, mode="reserve", allocation=50, cap=100, window=3, drift=10,
                   heartbeat_ms=5, sku_mins={"A": 2}, category_mins={"shoes": 4}) as p:
        assert (p.min_stock, p.mode, p.allocation, p.cap, p.window, p.drift, p.heartbeat_ms) == \
            (10, sg.Mode.RESERVE, 50, 100, 3, 10, 5)
        assert p.resolve_min("A", "shoes") == (2, sg.MinSource.SKU)
        assert p.resolve_min("B", "shoes") == (4, sg.MinSource.CATEGORY)


def test_constructor_failure_frees_and_raises():
    with pytest.raises(sg.OutOfRange):
        sg.Policy(min_stock=5, allocation=500)


def test_overrides_and_resolution(policy):
    policy.min_stock = 10
    assert policy.resolve_min() == (10, sg.MinSource.DEFAULT)
    policy.set_category_min("shoes", 4)
    policy.set_sku_min("SKU-1", 2)
    assert policy.resolve_min("SKU-1", "shoes") == (2, sg.MinSource.SKU)
    assert policy.resolve_min("SKU-2", "shoes") == (4, sg.MinSource.CATEGORY)
    assert policy.resolve_min("SKU-2", None) == (10, sg.MinSource.DEFAULT)
    assert policy.resolve_min(b"SKU-1") == (2, sg.MinSource.SKU)
    ev = policy.evaluate(3, sku="SKU-1", category="shoes")
    assert (ev.published, ev.min_stock, ev.min_source) == (3, 2, sg.MinSource.SKU)
    policy.clear_sku_min("SKU-1")
    assert policy.resolve_min("SKU-1", "shoes") == (4, sg.MinSource.CATEGORY)
    policy.clear_category_min("shoes")
    assert policy.resolve_min("SKU-1", "shoes") == (10, sg.MinSource.DEFAULT)


def test_override_errors(policy):
    with pytest.raises(sg.NotFound) as info:
        policy.clear_sku_min("never")
    assert info.value.code == sg.Status.ENOTFOUND and info.value.message
    with pytest.raises(sg.NotFound):
        policy.clear_category_min("never")
    with pytest.raises(sg.InvalidArgument):
        policy.set_sku_min("", 3)
    with pytest.raises(sg.InvalidArgument):
        policy.set_sku_min("x" * (sg.KEY_MAX + 1), 3)
    policy.set_sku_min("x" * sg.KEY_MAX, 3)
    with pytest.raises(sg.OutOfRange):
        policy.set_category_min("c", -1)
    with pytest.raises(sg.InvalidArgument) as info:
        policy.set_sku_min("a\0b", 1)
    assert "NUL" in info.value.message
    with pytest.raises(TypeError):
        policy.set_sku_min(42, 1)


def test_unicode_keys_round_trip(policy):
    policy.set_sku_min("tênis-ç", 3)
    assert policy.resolve_min("tênis-ç") == (3, sg.MinSource.SKU)
    assert policy.resolve_min("tênis-ç".encode()) == (3, sg.MinSource.SKU)


@pytest.mark.parametrize("settings,available,published,rule,warn", [
    ({}, 12, 12, sg.Rule.AVAILABLE, False),
    ({"min_stock": 10}, 10, 0, sg.Rule.CUTOFF, True),
    ({"min_stock": 10}, 11, 11, sg.Rule.AVAILABLE, False),
    ({"min_stock": 10}, 0, 0, sg.Rule.CUTOFF, False),
    ({}, -4, 0, sg.Rule.NEGATIVE, False),
    ({"min_stock": 10, "mode": "reserve"}, 14, 4, sg.Rule.RESERVE, False),
    ({"min_stock": 10, "mode": "reserve"}, 9, 0, sg.Rule.RESERVE, True),
    ({"allocation": 50}, 15, 7, sg.Rule.ALLOCATION, False),
    ({"cap": 20}, 30, 20, sg.Rule.CAP, False),
])
def test_evaluation_rules(settings, available, published, rule, warn):
    with sg.Policy(**settings) as p:
        ev = p.evaluate(available)
        assert ev.available == available and ev.published == published
        assert ev.rule == rule and ev.min_stock_reached == warn
        assert bool(ev.warnings & sg.WarningFlag.MIN_STOCK_REACHED) == warn
        assert isinstance(ev.rule, sg.Rule) and isinstance(ev.min_source, sg.MinSource)


def test_explain_says_why(policy):
    policy.min_stock = 10
    policy.set_sku_min("SKU-9", 20)
    ev = policy.explain(12, sku="SKU-9")
    assert ev == policy.evaluate(12, sku="SKU-9")
    assert ev.published == 0 and ev.rule == sg.Rule.CUTOFF and ev.min_source == sg.MinSource.SKU
    assert "publishes 0" in ev.explanation and "20" in ev.explanation
    assert "SKU" in ev.explanation and "min_stock_reached" in str(ev)
    assert "negative" in policy.explain(-1).explanation
    assert "above the minimum" in policy.explain(50).explanation
    policy.mode = "reserve"
    assert "held back" in policy.explain(50).explanation
    policy.mode = "cutoff"
    policy.allocation = 50
    assert "share" in policy.explain(50).explanation
    policy.cap = 5
    assert "cap" in policy.explain(50).explanation


def test_copy_is_independent(policy):
    policy.min_stock = 3
    policy.set_sku_min("A", 1)
    for other in (policy.copy(), copy.copy(policy), copy.deepcopy(policy)):
        with other:
            assert other.min_stock == 3 and other.resolve_min("A") == (1, sg.MinSource.SKU)
            other.min_stock = 9
            other.clear_sku_min("A")
            assert policy.min_stock == 3 and policy.resolve_min("A") == (1, sg.MinSource.SKU)


def test_close_is_idempotent_and_closed_use_raises():
    p = sg.Policy()
    assert not p.closed
    p.close()
    p.close()
    assert p.closed and "closed" in repr(p)
    for action in (lambda: p.min_stock, lambda: p.evaluate(1), lambda: p.copy(),
                   lambda: p.set_sku_min("a", 1), lambda: p.evaluate_batch([1])):
        with pytest.raises(sg.StateError) as info:
            action()
        assert info.value.code == sg.Status.ESTATE
    with pytest.raises(sg.StateError):
        with p:
            pass


def test_context_manager_closes():
    with sg.Policy() as p:
        assert not p.closed
    assert p.closed


def test_del_frees_without_close():
    import gc
    import weakref
    p = sg.Policy(min_stock=1)
    ref = weakref.ref(p)
    del p
    assert ref() is None  # freed by reference counting: no cycle
    gc.collect()


def test_evaluate_batch_out_is_filled_in_place():
    import array
    with sg.Policy(min_stock=4) as p:
        values = array.array("q", [-1, 0, 4, 5, 90])
        out = sg.EvaluationBatch.empty(len(values))
        out.published[0] = 123
        assert p.evaluate_batch(values, out=out) is out
        assert list(out.published) == [0, 0, 0, 5, 90]
        assert list(out.warnings) == [0, 0, 1, 0, 0]
        with pytest.raises(ValueError, match="out.published has 5 items, expected 2"):
            p.evaluate_batch(array.array("q", [1, 2]), out=out)
        with pytest.raises(TypeError, match="out must be an EvaluationBatch"):
            p.evaluate_batch(values, out=object())
