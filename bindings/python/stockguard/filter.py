"""The export-change filter: is this stock change worth an API call?

For a change from ``a0`` (None when the SKU is first seen) to ``a1``, with
``p0 = pub(a0)`` and ``p1 = pub(a1)`` under the policy, the first matching
row decides: first seen -> export; non-stock field changed -> export;
``p0 == p1`` -> skip; ``p0 <= window`` or ``p1 <= window`` -> export; drift
bound -> export; heartbeat -> export; otherwise skip.  See
``stockguard/filter.h``.
"""
from __future__ import annotations

import array
import ctypes
import struct
import threading
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from . import _native as N
from ._util import (Key, Record, i64, int64_in, keys_array, out_or_new, out_view, to_c,
                    uint8_in, zeros)
from .enums import ChangeFlag, Decision, Reason, Table, WarningFlag
from .policy import Evaluation, Policy


class FilterResult(Record):
    """The filter's answer for one change (``stg_filter_result``).

    Members: ``decision`` (:class:`Decision`, EXPORT or SKIP), ``reason``
    (:class:`Reason`), ``from_`` (the :class:`Evaluation` of ``from``, all
    zero when first seen) and ``to`` (that of ``to``; its warnings are the
    change's).  A light record (a tuple; it was a frozen dataclass: same
    members, order and constructor).
    """

    __slots__ = ()
    _fields = ("decision", "reason", "from_", "to")
    _tables = {"decision": Table(Decision), "reason": Table(Reason)}

    @property
    def export(self) -> bool:
        """True when the change is worth an API call."""
        return self.decision == Decision.EXPORT

    @property
    def warnings(self) -> WarningFlag:
        """The change's warnings (those of ``to``)."""
        return self.to.warnings


@dataclass(frozen=True)
class FilterBatch:
    """Results of :func:`filter_batch`: one item per change, as ``array.array``."""

    decisions: array.array     #: ``array('B')`` of :class:`Decision` values
    reasons: array.array       #: ``array('B')`` of :class:`Reason` values
    published_to: array.array  #: ``array('q')`` of published ``to`` quantities
    warnings: array.array      #: ``array('B')`` of :class:`WarningFlag` bits

    def __len__(self) -> int:
        return len(self.decisions)

    @property
    def exports(self) -> int:
        """How many changes are exported."""
        return self.decisions.count(Decision.EXPORT)

    @classmethod
    def empty(cls, n: int) -> "FilterBatch":
        """Zeroed outputs for ``n`` changes, to pass as ``out=`` again and again.

        Reusing outputs spares a fresh allocation per call; for batches of
        more than about 100k changes that allocation (page faults on new
        memory) costs more than the decisions themselves.
        """
        if n < 0:
            raise ValueError("n must be >= 0, not %d" % n)
        return cls(zeros("B", n), zeros("B", n), zeros("q", n), zeros("B", n))


# Plain ints: or-ing enum.IntFlag members costs more than the C call.
_HAS_FROM = int(ChangeFlag.HAS_FROM)
_NON_STOCK = int(ChangeFlag.NON_STOCK)


def _policy_handle(policy: Policy):
    if not isinstance(policy, Policy):
        raise TypeError("policy must be a stockguard.Policy, not %s" % type(policy).__name__)
    return policy._handle()


def decide(policy: Policy, to: int, from_: Optional[int] = None, *, non_stock: bool = False,
           sku: Optional[Key] = None, category: Optional[Key] = None,
           since_export_ms: int = -1) -> FilterResult:
    """Decide one change from ``from_`` (None: first seen) to ``to``.

    ``since_export_ms`` is the age of the SKU's last successful export
    (-1: unknown), used by the heartbeat.

    The change and result structs are made once per thread and reused, the
    numbers written with one ``pack_into`` and the answer read with one
    ``unpack_from``; the C call keeps the GIL (it is short).
    """
    try:
        h = policy._hv   # type: ignore[union-attr]
    except AttributeError:
        _policy_handle(policy)   # raises TypeError for a non-policy
        raise
    if h is None:
        policy._handle()
    try:
        ch, ch_ref, res, res_ref, call = _tls.decide
    except AttributeError:
        ch, ch_ref, res, res_ref, call = _tls.decide = _decide_buffers()
    if from_ is not None:
        flags = _HAS_FROM | _NON_STOCK if non_stock else _HAS_FROM
    else:
        flags = _NON_STOCK if non_stock else 0
        from_ = 0
    try:
        _PACK_CHANGE(ch, 0, _CHANGE_VERSION, flags, 0, 0, from_, to, since_export_ms)
    except struct.error:
        i64(to, "to")
        i64(from_ or 0, "from_")
        i64(since_export_ms, "since_export_ms")
        raise
    if sku is not None or category is not None:
        ch.sku = to_c(sku, "sku")
        ch.category = to_c(category, "category")
    rc = call(h, ch_ref, res_ref)
    if rc:
        raise N.lib.fail(rc, None)
    raw = _UNPACK_RESULT(res)
    kf, kt = raw[2:8], raw[8:14]
    # Evaluations are immutable and repeat (quantities, minima and rules
    # take few values): equal raw members give the same object.
    try:   # exact dicts: the fastest lookup; a miss (new value) takes the slow path once
        return _new_tuple(FilterResult, (_DECISIONS[raw[0]], _REASONS[raw[1]],
                                         _EVALUATIONS[kf], _EVALUATIONS[kt]))
    except KeyError:
        return FilterResult(raw[0], raw[1], _evaluation(kf), _evaluation(kt))


def _evaluation(raw: tuple) -> Evaluation:
    """The Evaluation of raw members (cached, see decide())."""
    ev = _EVALUATIONS.get(raw)
    if ev is not None:
        return ev
    ev = Evaluation(*raw)
    if len(_EVALUATIONS) >= 4096:
        _EVALUATIONS.clear()
    _EVALUATIONS[raw] = ev
    return ev


_EVALUATIONS: Dict[tuple, Evaluation] = {}


# Policy.decide(to, from_=None, ...) is this very function (self is the policy).
Policy.decide = decide  # type: ignore[assignment]


def _decide_buffers() -> tuple:
    ch = N.stg_change()
    res = N.stg_filter_result()
    return ch, ctypes.byref(ch), res, ctypes.byref(res), N.lib.fast("stg_filter_decide")


_tls = threading.local()
_CHANGE_VERSION = N.CHANGE_VERSION
_DECISIONS, _REASONS = (dict(FilterResult._tables[n]) for n in ("decision", "reason"))

_new_tuple = tuple.__new__
_CH = N.LAYOUTS["stg_change"]
assert _CH.names == ["version", "flags", "sku", "category", "from_", "to", "since_export_ms"], \
    "stg_change layout changed: see filter.py"
_PACK_CHANGE = _CH.only(*_CH.names).pack_into
# decision, reason and the six members of each evaluation (reserved_ skipped)
_UNPACK_RESULT = N.LAYOUTS["stg_filter_result"].only(
    "decision", "reason", *["%s.%s" % (side, m) for side in ("from_", "to")
                            for m in Evaluation._fields]).unpack_from


def filter_batch(policy: Policy, to: Any, from_: Any = None, *, has_from: Any = None,
                 non_stock: Any = None, since_export_ms: Any = None,
                 skus: Optional[Sequence[Optional[Key]]] = None,
                 categories: Optional[Sequence[Optional[Key]]] = None,
                 out: Optional[FilterBatch] = None) -> FilterBatch:
    """Decide many changes in one C call (arrays in, arrays out).

    ``to``, ``from_`` and ``since_export_ms`` are int64 buffers (see
    :meth:`Policy.evaluate_batch`); ``has_from`` and ``non_stock`` 1-byte
    buffers (bytes, ``array('B')``, bool arrays) or sequences of truth
    values; all of the same length as ``to``.  ``from_=None`` means every SKU
    is first seen; ``has_from=None`` with a ``from_`` means every ``from`` is
    known; ``since_export_ms=None`` means unknown ages.

    ``out`` (from :meth:`FilterBatch.empty` or an earlier call) receives the
    results in place and is returned; its arrays must hold exactly ``len(to)``
    items and must not be resized while the call runs.  Without it, new
    arrays are allocated.  On an error nothing useful is in ``out``.
    """
    h = _policy_handle(policy)
    to_c_arr, n = int64_in(to, "to")
    if from_ is None:
        from_arr = (ctypes.c_int64 * n)()
        if has_from is None:
            has_from = bytes(n)
    else:
        from_arr, _ = int64_in(from_, "from_", n)
    hf = uint8_in(has_from, "has_from", n)
    ns = uint8_in(non_stock, "non_stock", n)
    since = int64_in(since_export_ms, "since_export_ms", n)[0] if since_export_ms is not None \
        else None
    sk = keys_array(skus, n, "skus")
    cat = keys_array(categories, n, "categories")
    out = out_or_new(out, FilterBatch, n)
    d_c = out_view(out.decisions, "B", n, "out.decisions")
    r_c = out_view(out.reasons, "B", n, "out.reasons")
    p_c = out_view(out.published_to, "q", n, "out.published_to")
    w_c = out_view(out.warnings, "B", n, "out.warnings")
    if n:
        N.lib.stg_filter_batch(h, n, sk, cat, from_arr, hf, to_c_arr, ns, since, d_c, r_c, p_c,
                               w_c)
    else:
        N.lib.stg_filter_batch(h, 0, None, None, None, None, None, None, None, None, None, None,
                               None)
    return out


__all__ = ["FilterResult", "FilterBatch", "decide", "filter_batch"]
