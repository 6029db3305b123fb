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


def decide(policy: Policy, to: int, from_: Optional[int] = None, non_stock: bool = False,
           sku: Optional[Key] = None, category: Optional[Key] = None,
           since_export_ms: int = -1) -> FilterResult:
    """Decide one change from ``from_`` (None: first seen) to ``to``.

    ``since_export_ms`` is the age of the SKU's last successful export
    (-1: unknown), used by the heartbeat.  Pass ``non_stock``, ``sku``,
    ``category`` and ``since_export_ms`` by keyword.  (They are not
    keyword-only in the signature: CPython's specialising interpreter, 3.11
    and later, does not specialise calls of functions with keyword-only
    parameters, which costs about a tenth of this call.)

    Per call: two int64 stores into a prepared change struct, one C call
    that keeps the GIL, and the answer looked up by its raw bytes: results
    are immutable and their parts repeat, so equal bytes give the same
    :class:`Evaluation` objects.  The structs come from a small pool (one
    set per thread that is inside ``decide`` at the same time).
    """
    try:
        h = policy._hb   # type: ignore[union-attr]
    except AttributeError:
        _policy_handle(policy)   # raises TypeError for a non-policy
        raise
    try:
        bufs = _take()
    except IndexError:   # every set in use (threads), or the first call
        bufs = _decide_buffers()
    try:
        cw, ch_ref, res_ref, kf, kt, call, _ = bufs
        if (from_ is None or non_stock or sku is not None or category is not None or
                since_export_ms != -1):
            rc = _decide_general(bufs, h, to, from_, non_stock, sku, category, since_export_ms)
        else:
            # the prepared change has HAS_FROM, no texts, no age: the
            # common case writes only from and to
            try:
                cw[_W_FROM] = from_
                cw[_W_TO] = to
            except (TypeError, ValueError):
                i64(to, "to")
                i64(from_, "from_")
                raise
            rc = call(h, ch_ref, res_ref)
        if rc:
            policy._handle()   # a closed policy (NULL handle): StateError
            raise N.lib.fail(rc, None)
        fb = kf.tobytes()
        tb = kt.tobytes()
        try:
            pre = _HEADS[fb]
            return _new_tuple(FilterResult, (pre[0], pre[1], pre[2], _EVALUATIONS[tb]))
        except KeyError:   # a value not seen yet: the slow path once
            pre = _HEADS.get(fb) or _head(fb)
            return _new_tuple(FilterResult, (pre[0], pre[1], pre[2],
                                             _EVALUATIONS.get(tb) or _evaluation(tb)))
    finally:
        _give(bufs)


def _decide_general(bufs: tuple, h: Any, to: Any, from_: Any, non_stock: Any, sku: Any,
                    category: Any, since_export_ms: Any) -> int:
    """decide() with a first-seen change, a non-stock change, texts or an age:
    the whole change written, then the prepared defaults put back."""
    ch = bufs[6][0]
    flags = (_NON_STOCK if non_stock else 0) | (0 if from_ is None else _HAS_FROM)
    skb = to_c(sku, "sku")
    cb = to_c(category, "category")
    try:
        _PACK_CHANGE(ch, 0, _CHANGE_VERSION, flags, 0, 0, 0 if from_ is None else from_, to,
                     since_export_ms)
    except struct.error:
        i64(to, "to")
        i64(0 if from_ is None else from_, "from_")
        i64(since_export_ms, "since_export_ms")
        raise
    try:
        ch.sku = skb
        ch.category = cb
        return bufs[5](h, bufs[1], bufs[2])
    finally:
        _PACK_CHANGE(ch, 0, _CHANGE_VERSION, _HAS_FROM, 0, 0, 0, 0, -1)
        ch.sku = ch.category = None


def _head(raw: bytes) -> tuple:
    """(Decision, Reason, Evaluation of from) for the first 44 bytes of a
    stg_filter_result (cached, see decide())."""
    d, r = _UNPACK_HEAD(raw)
    head = (_DECISIONS[d], _REASONS[r], _EVALUATIONS.get(raw[_EV_AT:]) or
            _evaluation(raw[_EV_AT:]))
    if len(_HEADS) >= 8192:
        _HEADS.clear()
    _HEADS[raw] = head
    return head


def _evaluation(raw: bytes) -> Evaluation:
    """The Evaluation of the raw bytes of its six members (cached, see decide())."""
    ev = Evaluation(*_UNPACK_EVALUATION(raw))
    if len(_EVALUATIONS) >= 4096:
        _EVALUATIONS.clear()
    _EVALUATIONS[raw] = ev
    return ev


#: raw bytes of decision, reason and the from evaluation -> (Decision, Reason, Evaluation)
_HEADS: Dict[bytes, tuple] = {}
#: raw bytes of an evaluation's six members -> Evaluation
_EVALUATIONS: Dict[bytes, Evaluation] = {}


# Policy.decide(to, from_=None, ...) is this very function (self is the policy).
Policy.decide = decide  # type: ignore[assignment]


def _decide_buffers() -> tuple:
    """One set of decide() buffers: the change's 8-byte words, the two
    references for C, views of the result's two keyed parts, the entry
    and the structs (kept alive)."""
    ch = N.stg_change()
    res = N.stg_filter_result()
    _PACK_CHANGE(ch, 0, _CHANGE_VERSION, _HAS_FROM, 0, 0, 0, 0, -1)
    raw = memoryview(res).cast("B")
    return (memoryview(ch).cast("B").cast("q"), ctypes.byref(ch), ctypes.byref(res),
            raw[:_HEAD_LEN], raw[_TO_AT:_TO_AT + _EV_LEN], N.lib.fast("stg_filter_decide"),
            (ch, res))


# The pool of buffer sets: list.pop and list.append are atomic, so two
# threads never hold the same set; a set is put back after the call.
_POOL: list = []
_take = _POOL.pop
_give = _POOL.append
_CHANGE_VERSION = N.CHANGE_VERSION
_DECISIONS, _REASONS = (dict(FilterResult._tables[n]) for n in ("decision", "reason"))

_new_tuple = tuple.__new__
_CH = N.LAYOUTS["stg_change"]
assert _CH.names == ["version", "flags", "sku", "category", "from_", "to", "since_export_ms"], \
    "stg_change layout changed: see filter.py"
_PACK_CHANGE = _CH.only(*_CH.names).pack_into
_W_FROM, _W_TO = _CH.offset["from_"] // 8, _CH.offset["to"] // 8
_RES = N.LAYOUTS["stg_filter_result"]
# The keyed parts of a result: decision, reason and the from evaluation's six
# members (one run of bytes), and the to evaluation's six members; the
# reserved words are left out.
_EV_AT = _RES.offset["from_"]
_TO_AT = _RES.offset["to"]
_EV_LEN = N.LAYOUTS["stg_evaluation"].offset["reserved_"]
_HEAD_LEN = _EV_AT + _EV_LEN
_UNPACK_EVALUATION = struct.Struct("@qqqiiI").unpack
_UNPACK_HEAD = struct.Struct("@ii").unpack_from
assert struct.calcsize("@qqqiiI") == _EV_LEN and _EV_AT == struct.calcsize("@ii") and \
    N.LAYOUTS["stg_evaluation"].names[:6] == list(Evaluation._fields), \
    "stg_evaluation layout changed: see filter.py"


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
