"""One line of the integration log (:class:`Entry`) and its binary encoding.

The log keeps one entry per (integration, SKU).  :func:`encode` and
:func:`decode` give the library's versioned, checksummed byte form, for
storage hooks that keep entries in a key-value store.  Times are
milliseconds since the Unix epoch (0 = never).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Optional, Tuple, Union

from . import _native as N
from ._util import i32, i64, to_c, u32, u64
from .enums import (EntryFlag, EntryStatus, ErrorClass, JobState, MinSource, Priority, Reason,
                    Rule, Table, coerce)
from .errors import Overflow


@dataclass(frozen=True)
class Entry:
    """One (integration, SKU) line of the log (``stg_entry``).

    Returned by :meth:`Log.get`, :meth:`Log.query` and :func:`decode`; given
    to storage hooks.  Hosts may build one (e.g. to stream it back in a
    storage ``load``); the defaults are those of ``stg_entry_init()``.

    Entries the library hands out are *light*: their texts are copied at
    once, their numbers and enums are read from a saved copy of the C
    struct the first time each is used (:meth:`__getattr__`), so a query
    costs little more than the fields a host reads.  They behave exactly
    like built ones (equality, hashing, ``repr``, ``dataclasses.replace``).
    """

    integration: str
    sku: str
    status: EntryStatus = EntryStatus.PENDING
    message: Optional[str] = None   #: the marketplace's last error message
    available: int = 0              #: available quantity of the newest applied change
    published: int = 0              #: quantity of the job (or of the last export)
    acked: int = 0                  #: last quantity acknowledged (see :attr:`has_acked`)
    sequence: int = 0               #: source sequence of the newest applied change
    changed_at: int = 0             #: time of the newest applied stock change
    job_since: int = 0              #: time of the oldest change the job carries (0: no job)
    first_failed_at: int = 0        #: first failure of the current problem
    last_attempt_at: int = 0        #: last hand-off to the transport
    acked_at: int = 0               #: time of the last acknowledgement
    next_attempt_at: int = 0        #: when the job is due (0: no job)
    latency_ms: int = -1            #: change-to-ack time of the last export, -1 if none
    job_id: int = 0                 #: id of the current job (0: no job)
    attempts: int = 0               #: failed attempts of the current problem
    job_attempts: int = 0           #: failed attempts of the current job (0: no job)
    job_transient: int = 0          #: its transient failures (retry budget used; 0: no job)
    job_state: JobState = JobState.NONE
    error_class: ErrorClass = ErrorClass.NONE
    http_status: int = 0
    priority: Priority = Priority.NORMAL
    reason: Reason = Reason.NONE    #: reason of the newest decision
    flags: EntryFlag = EntryFlag(0)
    #: where the newest evaluation's minimum came from (None: not recorded,
    #: e.g. an entry stored by 1.0)
    min_source: Optional[MinSource] = None
    #: which rule set the published quantity (None: not recorded)
    rule: Optional[Rule] = None

    @property
    def explanation(self) -> str:
        """Why this quantity is published, in a sentence a merchant can read
        (``stg_entry_explain``): from the entry alone, without the policy."""
        e = self._to_c()
        buf = ctypes.create_string_buffer(N.EXPLAIN_MAX)
        N.lib.stg_entry_explain(ctypes.byref(e), buf, N.EXPLAIN_MAX, None)
        return buf.value.decode("utf-8")

    # ------------------------------------------------------------ flags
    @property
    def min_stock_reached(self) -> bool:
        """The minimum forced a positive stock to 0 (warn the merchant)."""
        return bool(self.flags & EntryFlag.MIN_STOCK_REACHED)

    @property
    def abnormal(self) -> bool:
        """An export reached the marketplace later than the latency limit."""
        return bool(self.flags & EntryFlag.ABNORMAL)

    @property
    def late(self) -> bool:
        """The pending job is older than the latency limit (computed by queries)."""
        return bool(self.flags & EntryFlag.LATE)

    @property
    def has_acked(self) -> bool:
        """:attr:`acked` holds a value the marketplace acknowledged."""
        return bool(self.flags & EntryFlag.HAS_ACKED)

    @property
    def key(self) -> Tuple[str, str]:
        """``(integration, sku)``."""
        return (self.integration, self.sku)

    # ------------------------------------------------------------ codec
    def encode(self) -> bytes:
        """The library's binary encoding of this entry (see :func:`encode`)."""
        return encode(self)

    @classmethod
    def decode(cls, data: Any) -> "Entry":
        """Decode bytes made by :meth:`encode` (see :func:`decode`)."""
        return decode(data)

    # ------------------------------------------------------------ C conversion
    def __getattr__(self, name: str) -> Any:
        # Only reached for a member not yet read from a light entry's saved
        # struct (built entries hold every member in their __dict__).
        d = self.__dict__
        raw = d.get("_raw")
        if raw is None:
            page = d.get("_page")   # a query's entry: its struct is in the page
            if page is not None:
                # _raw first, then let go of the page: a thread reading the
                # same entry meanwhile finds one or the other
                raw = d["_raw"] = _ENTRY.struct.unpack_from(*page)
                d.pop("_page", None)
        read = _READ.get(name)
        if raw is None or read is None:
            raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))
        value = d[name] = read(raw)
        return value

    @classmethod
    def _light(cls, raw: tuple, integration: str, sku: str,
               message: Optional[str]) -> "Entry":
        """An entry over ``raw`` (the unpacked ``stg_entry``) and its copied texts."""
        e = _new(cls)
        d = e.__dict__
        d["integration"] = integration
        d["sku"] = sku
        d["message"] = message
        d["_raw"] = raw
        return e

    @classmethod
    def _from_address(cls, address: int) -> "Entry":
        """A light entry from a ``stg_entry`` in C memory (strings copied now)."""
        raw = _ENTRY.struct.unpack(ctypes.string_at(address, _ENTRY.size))
        return cls._light(raw, _str_at(raw[_I_INTEG]) or "", _str_at(raw[_I_SKU]) or "",
                          _str_at(raw[_I_MSG]))

    @classmethod
    def _from_c(cls, e: N.stg_entry) -> "Entry":
        return cls._from_address(ctypes.addressof(e))

    def _to_c(self) -> N.stg_entry:
        """A ``stg_entry`` (its strings are kept alive by the struct itself)."""
        e = N.stg_entry()
        N.lib.stg_entry_init(ctypes.byref(e), N.ENTRY_VERSION)
        e.integration = to_c(self.integration, "integration")
        e.sku = to_c(self.sku, "sku")
        e.message = to_c(self.message, "message")
        e.status = i32(self.status, "status")
        for name in ("available", "published", "acked", "sequence", "changed_at", "job_since",
                     "first_failed_at", "last_attempt_at", "acked_at", "next_attempt_at",
                     "latency_ms"):
            setattr(e, name, i64(getattr(self, name), name))
        e.job_id = u64(self.job_id, "job_id")
        e.attempts = u32(self.attempts, "attempts")
        e.job_attempts = u32(self.job_attempts, "job_attempts")
        e.job_transient = u32(self.job_transient, "job_transient")
        for name in ("job_state", "error_class", "http_status", "priority", "reason"):
            setattr(e, name, i32(getattr(self, name), name))
        e.flags = u32(self.flags, "flags")
        e.min_source = -1 if self.min_source is None else i32(self.min_source, "min_source")
        e.rule = -1 if self.rule is None else i32(self.rule, "rule")
        return e


_new = object.__new__
_ENTRY = N.LAYOUTS["stg_entry"]
_I_INTEG, _I_SKU, _I_MSG = (_ENTRY.index[n] for n in ("integration", "sku", "message"))
_string_at = ctypes.string_at


def _str_at(address: Optional[int]) -> Optional[str]:
    """A NUL-terminated C text at ``address`` as str (None for NULL)."""
    if not address:
        return None
    return _string_at(address).decode("utf-8", "surrogateescape")


def _reader(name: str) -> Callable[[tuple], Any]:
    i = _ENTRY.index[name]
    table = {"status": EntryStatus, "job_state": JobState, "error_class": ErrorClass,
             "priority": Priority, "reason": Reason, "flags": EntryFlag,
             "min_source": MinSource, "rule": Rule}.get(name)
    if table is None:
        return lambda raw: raw[i]
    t = Table(table)
    if name in ("min_source", "rule"):  # -1: not recorded
        return lambda raw: None if raw[i] < 0 else t[raw[i]]
    return lambda raw: t[raw[i]]


#: How a light entry reads each member it was not given as text.
_READ: Dict[str, Callable[[tuple], Any]] = {
    f.name: _reader(f.name) for f in fields(Entry)
    if f.name not in ("integration", "sku", "message")}

# Defaults live in the generated __init__; as class attributes they would
# hide a light entry's members from __getattr__.
for _f in fields(Entry):
    if _f.name in Entry.__dict__:
        delattr(Entry, _f.name)
del _f


def encode(entry: Entry) -> bytes:
    """Encode an entry with ``stg_entry_encode()``.

    Raises InvalidArgument for a missing or over-long integration/SKU, an
    over-long message or out-of-range enums.
    """
    e = entry._to_c()
    n = ctypes.c_size_t()
    buf = ctypes.create_string_buffer(N.ENTRY_ENCODED_MAX)
    try:
        N.lib.stg_entry_encode(ctypes.byref(e), buf, len(buf), ctypes.byref(n))
    except Overflow:
        # a library whose encoding grew past this binding's constant: ask it
        buf = ctypes.create_string_buffer(n.value)
        N.lib.stg_entry_encode(ctypes.byref(e), buf, len(buf), ctypes.byref(n))
    return buf.raw[:n.value]


def decode(data: Union[bytes, bytearray, memoryview]) -> Entry:
    """Decode bytes made by :func:`encode` with ``stg_entry_decode()``.

    Raises :class:`~stockguard.errors.Truncated` when the bytes end early and
    :class:`~stockguard.errors.Corrupt` for bad magic, version, checksum,
    trailing bytes or fields.
    """
    raw = bytes(data)
    e = N.stg_entry()
    N.lib.stg_entry_decode(raw, len(raw), ctypes.byref(e))
    return Entry._from_c(e)  # copies the strings while ``raw`` is alive


def classify_http(http_status: int) -> ErrorClass:
    """The error class the log gives an HTTP status (``stg_classify_http()``)."""
    return coerce(ErrorClass, N.lib.stg_classify_http(i32(http_status, "http_status")))  # type: ignore


__all__ = ["Entry", "encode", "decode", "classify_http"]
