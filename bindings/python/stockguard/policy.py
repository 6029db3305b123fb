"""The threshold evaluator: :class:`Policy` and :class:`Evaluation`.

A policy holds the settings of one integration (one marketplace
connection): minimum stock with per-category and per-SKU overrides, mode,
allocation, cap, and the export-change filter's window, drift bound and
heartbeat.  See ``stockguard/policy.h``.

Thread model (as in C): a policy may be evaluated from any number of threads
at once as long as no thread changes it; changing it (setters, overrides,
:meth:`Policy.close`) needs exclusive access.
"""
from __future__ import annotations

import array
import ctypes
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from . import _native as N
from ._util import (Key, Record, i32, i64, int64_in, keys_array, out_or_new, out_view, to_c,
                    zeros)
from .enums import MinSource, Mode, Rule, Status, Table, WarningFlag, coerce
from .errors import StateError

class Evaluation(Record):
    """The result of one evaluation (``stg_evaluation``).

    Members: ``available`` (the input), ``published`` (what to publish,
    >= 0), ``min_stock`` (the minimum that applied), ``min_source``
    (:class:`MinSource`: where it came from), ``rule`` (:class:`Rule` that
    set ``published``) and ``warnings`` (:class:`WarningFlag`).  A light
    record (a tuple; it was a frozen dataclass: same members, order and
    constructor).
    """

    __slots__ = ()
    _fields = ("available", "published", "min_stock", "min_source", "rule", "warnings")
    _tables = {"min_source": Table(MinSource), "rule": Table(Rule),
               "warnings": Table(WarningFlag)}

    @property
    def min_stock_reached(self) -> bool:
        """True when the minimum forced a positive stock to publish as 0."""
        return bool(self.warnings & WarningFlag.MIN_STOCK_REACHED)

    @property
    def explanation(self) -> str:
        """A sentence a merchant can read: why this quantity is published.

        The C library writes it (``stg_evaluation_explain``), so Python, C and
        ``stockguard-replay --explain`` say the same words.
        """
        ev = N.stg_evaluation(self.available, self.published, self.min_stock,
                              int(self.min_source), int(self.rule), int(self.warnings))
        buf = ctypes.create_string_buffer(N.EXPLAIN_MAX)
        N.lib.stg_evaluation_explain(ctypes.byref(ev), buf, N.EXPLAIN_MAX, None)
        return buf.value.decode("utf-8")

    def __str__(self) -> str:
        return self.explanation

    @classmethod
    def _from_c(cls, ev: N.stg_evaluation) -> "Evaluation":
        a, p, m, s, r, w = _EVALUATION6(ev)
        t = cls._tables
        return _new_tuple(cls, (a, p, m, t["min_source"][s], t["rule"][r], t["warnings"][w]))


_new_tuple = tuple.__new__
_EV = N.LAYOUTS["stg_evaluation"]
assert _EV.names[:6] == list(Evaluation._fields), "stg_evaluation layout changed: see policy.py"
_EVALUATION6 = _EV.only(*Evaluation._fields).unpack_from


@dataclass(frozen=True)
class EvaluationBatch:
    """Results of :meth:`Policy.evaluate_batch`: one item per input."""

    published: array.array  #: ``array('q')`` of published quantities
    warnings: array.array   #: ``array('B')`` of :class:`WarningFlag` bits

    def __len__(self) -> int:
        return len(self.published)

    @classmethod
    def empty(cls, n: int) -> "EvaluationBatch":
        """Zeroed outputs for ``n`` items, to pass as ``out=`` again and again."""
        if n < 0:
            raise ValueError("n must be >= 0, not %d" % n)
        return cls(zeros("q", n), zeros("B", n))


class Policy:
    """Settings of one integration (``stg_policy``).

    All settings are properties; invalid values raise
    :class:`~stockguard.errors.OutOfRange` (or InvalidArgument) with the
    library's message and leave the previous value in place::

        with Policy(min_stock=10, mode=Mode.RESERVE) as p:
            p.set_sku_min("SKU-1", 3)
            print(p.evaluate(12, sku="SKU-1"))

    Use it as a context manager or call :meth:`close`; the handle is also
    freed when the object is garbage-collected.
    """

    __slots__ = ("_h", "_hb", "_free", "__weakref__")

    def __init__(self, *, min_stock: Optional[int] = None, mode: Union[Mode, int, str, None] = None,
                 allocation: Optional[int] = None, cap: Optional[int] = None,
                 window: Optional[int] = None, drift: Optional[int] = None,
                 heartbeat_ms: Optional[int] = None,
                 sku_mins: Optional[Mapping[Key, int]] = None,
                 category_mins: Optional[Mapping[Key, int]] = None) -> None:
        lib = N.lib
        self._free = lib.stg_policy_free
        self._h = self._hb = None
        h = N.policy_p()
        lib.stg_policy_new(ctypes.byref(h), None)
        self._adopt(h)
        try:
            for name, value in (("min_stock", min_stock), ("mode", mode),
                                ("allocation", allocation), ("cap", cap), ("window", window),
                                ("drift", drift), ("heartbeat_ms", heartbeat_ms)):
                if value is not None:
                    setattr(self, name, value)
            for k, v in (sku_mins or {}).items():
                self.set_sku_min(k, v)
            for k, v in (category_mins or {}).items():
                self.set_category_min(k, v)
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------- lifetime
    def _adopt(self, h: Any) -> None:
        self._h = h
        # the handle for the argtype-free fast entries (decide): see N.handle_ref
        self._hb = N.handle_ref(h)

    def _handle(self):
        h = self._h
        if h is None:
            raise StateError(Status.ESTATE, "the policy is closed")
        return h

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._h is None

    def close(self) -> None:
        """Free the C policy. Idempotent."""
        h, self._h = self._h, None
        self._hb = None
        if h is not None:
            self._free(h)

    def __enter__(self) -> "Policy":
        self._handle()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may be gone
            pass

    def copy(self) -> "Policy":
        """An independent copy (settings and overrides)."""
        h = N.policy_p()
        N.lib.stg_policy_copy(ctypes.byref(h), self._handle())
        other = Policy.__new__(Policy)
        other._free = N.lib.stg_policy_free
        other._adopt(h)
        return other

    __copy__ = copy

    def __deepcopy__(self, memo: Any) -> "Policy":
        return self.copy()

    def __repr__(self) -> str:
        if self._h is None:
            return "<stockguard.Policy closed>"
        return ("<stockguard.Policy min_stock=%d mode=%s allocation=%d cap=%d window=%d "
                "drift=%d heartbeat_ms=%d>" % (self.min_stock, self.mode.name, self.allocation,
                                              self.cap, self.window, self.drift,
                                              self.heartbeat_ms))

    @property
    def errmsg(self) -> str:
        """Message of the policy's last failed call ("" when none)."""
        raw = N.lib.stg_policy_errmsg(self._handle())
        return N.python_message(raw.decode("utf-8", "replace")) if raw else ""

    # -------------------------------------------------------- settings
    @property
    def min_stock(self) -> int:
        """The integration's minimum stock (default 0)."""
        return N.lib.stg_policy_min_stock(self._handle())

    @min_stock.setter
    def min_stock(self, value: int) -> None:
        N.lib.stg_policy_set_min_stock(self._handle(), i64(value, 'min_stock'))

    @property
    def mode(self) -> Mode:
        """:class:`Mode` (default cutoff). Also accepts ``"cutoff"``/``"reserve"``."""
        return coerce(Mode, N.lib.stg_policy_mode(self._handle()))  # type: ignore

    @mode.setter
    def mode(self, value: Union[Mode, int, str]) -> None:
        if isinstance(value, str):
            try:
                value = Mode[value.upper()]
            except KeyError:
                raise ValueError("unknown mode %r (cutoff or reserve)" % value) from None
        N.lib.stg_policy_set_mode(self._handle(), i32(value, 'mode'))

    @property
    def allocation(self) -> int:
        """Percentage of the stock offered on this integration, 1-100 (default 100)."""
        return N.lib.stg_policy_allocation(self._handle())

    @allocation.setter
    def allocation(self, value: int) -> None:
        N.lib.stg_policy_set_allocation(self._handle(), i32(value, 'allocation'))

    @property
    def cap(self) -> int:
        """Most ever published; 0 = no cap (default)."""
        return N.lib.stg_policy_cap(self._handle())

    @cap.setter
    def cap(self, value: int) -> None:
        N.lib.stg_policy_set_cap(self._handle(), i64(value, 'cap'))

    @property
    def window(self) -> int:
        """The filter's low-stock window (default 5)."""
        return N.lib.stg_policy_window(self._handle())

    @window.setter
    def window(self, value: int) -> None:
        N.lib.stg_policy_set_window(self._handle(), i64(value, 'window'))

    @property
    def drift(self) -> int:
        """The filter's drift bound in percent, 0-10000; 0 = off (default)."""
        return N.lib.stg_policy_drift(self._handle())

    @drift.setter
    def drift(self, value: int) -> None:
        N.lib.stg_policy_set_drift(self._handle(), i32(value, 'drift'))

    @property
    def heartbeat_ms(self) -> int:
        """The filter's heartbeat age in milliseconds; 0 = off (default)."""
        return N.lib.stg_policy_heartbeat(self._handle())

    @heartbeat_ms.setter
    def heartbeat_ms(self, value: int) -> None:
        N.lib.stg_policy_set_heartbeat(self._handle(), i64(value, 'heartbeat_ms'))

    # -------------------------------------------------------- overrides
    def set_sku_min(self, sku: Key, minimum: int) -> None:
        """Set a minimum for one SKU (overrides category and default)."""
        N.lib.stg_policy_set_sku_min(self._handle(), to_c(sku, "sku"), i64(minimum, "minimum"))

    def clear_sku_min(self, sku: Key) -> None:
        """Remove a SKU's override; :class:`~stockguard.errors.NotFound` when it has none."""
        N.lib.stg_policy_clear_sku_min(self._handle(), to_c(sku, "sku"))

    def set_category_min(self, category: Key, minimum: int) -> None:
        """Set a minimum for one category (overrides the default)."""
        N.lib.stg_policy_set_category_min(self._handle(), to_c(category, "category"), i64(minimum, "minimum"))

    def clear_category_min(self, category: Key) -> None:
        """Remove a category's override; NotFound when it has none."""
        N.lib.stg_policy_clear_category_min(self._handle(), to_c(category, "category"))

    def resolve_min(self, sku: Optional[Key] = None,
                    category: Optional[Key] = None) -> Tuple[int, MinSource]:
        """The minimum for a SKU in a category, and where it came from."""
        m = ctypes.c_int64()
        src = ctypes.c_int()
        N.lib.stg_policy_resolve_min(self._handle(), to_c(sku, "sku"),
                                     to_c(category, "category"), ctypes.byref(m),
                                     ctypes.byref(src))
        return m.value, coerce(MinSource, src.value)  # type: ignore

    # -------------------------------------------------------- evaluation
    def evaluate(self, available: int, sku: Optional[Key] = None,
                 category: Optional[Key] = None) -> Evaluation:
        """Evaluate one available quantity: what to publish and why."""
        out = N.stg_evaluation()
        N.lib.stg_policy_evaluate(self._handle(), to_c(sku, "sku"), to_c(category, "category"),
                                  i64(available, "available"), ctypes.byref(out))
        return Evaluation._from_c(out)

    def explain(self, available: int, sku: Optional[Key] = None,
                category: Optional[Key] = None) -> Evaluation:
        """Same as :meth:`evaluate`; read its ``explanation`` ("why is this SKU 0?")."""
        return self.evaluate(available, sku, category)

    def evaluate_batch(self, available: Any, skus: Optional[Sequence[Optional[Key]]] = None,
                       categories: Optional[Sequence[Optional[Key]]] = None,
                       out: Optional[EvaluationBatch] = None) -> EvaluationBatch:
        """Evaluate many quantities in one C call.

        ``available`` is a buffer of int64 (``array('q')``, memoryview,
        numpy int64, raw native-endian bytes) or a sequence of ints;
        ``skus``/``categories`` optional sequences of the same length.
        ``out`` (from :meth:`EvaluationBatch.empty` or an earlier call)
        receives the results in place and is returned; its arrays must hold
        exactly as many items as ``available``.
        """
        avail, n = int64_in(available, "available")
        sk = keys_array(skus, n, "skus")
        cat = keys_array(categories, n, "categories")
        out = out_or_new(out, EvaluationBatch, n, "an")
        pub_c = out_view(out.published, "q", n, "out.published")
        warn_c = out_view(out.warnings, "B", n, "out.warnings")
        N.lib.stg_policy_evaluate_batch(self._handle(), n, sk, cat, avail if n else None,
                                        pub_c if n else None, warn_c if n else None)
        return out

    # -------------------------------------------------------- filter shortcuts
    # decide() is stockguard.filter.decide itself, installed by that module
    # (a forwarding method would cost a call per change).

    def filter_batch(self, to: Any, from_: Any = None, **kwargs: Any):
        """Shortcut for :func:`stockguard.filter.filter_batch` with this policy."""
        from .filter import filter_batch
        return filter_batch(self, to, from_, **kwargs)
