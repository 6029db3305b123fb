"""Enumerations and flag sets of the C API, as :class:`enum.IntEnum` / :class:`enum.IntFlag`.

The numbers are part of the ABI and equal the C constants.  Values a newer
library may add are passed through as plain ``int`` by the binding rather
than rejected (see :func:`coerce`).
"""
from __future__ import annotations

import enum
from typing import Type, TypeVar, Union


class Status(enum.IntEnum):
    """Status codes (``stg_status``): 0 success, negative failure."""

    OK = 0
    EINVAL = -1
    ENOMEM = -2
    ERANGE = -3
    ENOTFOUND = -4
    EVERSION = -5
    ESTORAGE = -6
    ETRANSPORT = -7
    EBUSY = -8
    ERECURSIVE = -9
    ECORRUPT = -10
    ETRUNCATED = -11
    ESTATE = -12
    EEXISTS = -13
    ECALLBACK = -14
    EOVERFLOW = -15
    ELIMIT = -16


def _named(fn: str):
    """Class decorator: ``label`` gives the library's own name of each value."""

    def deco(cls):
        cls.label = property(lambda self: _label(fn, int(self)),
                             doc="The library's name for this value, from ``%s()``." % fn)
        return cls
    return deco


def _label(fn: str, value: int) -> str:
    from ._native import lib
    return getattr(lib, fn)(value).decode("ascii")


Status.label = property(lambda self: _label("stg_strerror", int(self)),  # type: ignore
                        doc="The library's text for this code, from ``stg_strerror()``.")


class Mode(enum.IntEnum):
    """How the minimum stock is applied (``stg_mode``)."""

    CUTOFF = 0   #: publish 0 at or below the minimum (default)
    RESERVE = 1  #: publish what is above the minimum


@_named("stg_min_source_name")
class MinSource(enum.IntEnum):
    """Where the minimum of an evaluation came from (``stg_min_source``)."""

    DEFAULT = 0
    CATEGORY = 1
    SKU = 2


@_named("stg_rule_name")
class Rule(enum.IntEnum):
    """Which rule set the published quantity (``stg_rule``)."""

    AVAILABLE = 0
    NEGATIVE = 1
    CUTOFF = 2
    RESERVE = 3
    ALLOCATION = 4
    CAP = 5


class WarningFlag(enum.IntFlag):
    """Warnings of an evaluation (``STG_WARN_*``)."""

    MIN_STOCK_REACHED = 0x1


@_named("stg_decision_name")
class Decision(enum.IntEnum):
    """What happens to a change (``stg_decision``)."""

    SKIP = 0
    EXPORT = 1
    COALESCED = 2
    STALE = 3


@_named("stg_reason_name")
class Reason(enum.IntEnum):
    """Why (``stg_reason``)."""

    NONE = 0
    FIRST_SEEN = 1
    NON_STOCK_CHANGE = 2
    NO_CHANGE = 3
    LOW_STOCK = 4
    OUTSIDE_WINDOW = 5
    DRIFT = 6
    HEARTBEAT = 7
    COALESCED = 8
    STALE = 9
    AFTER_ERROR = 10
    OUT_OF_SYNC = 11


class ChangeFlag(enum.IntFlag):
    """Flags of a change (``STG_CHANGE_*``)."""

    HAS_FROM = 0x1
    NON_STOCK = 0x2


@_named("stg_entry_status_name")
class EntryStatus(enum.IntEnum):
    """What the merchant sees for an entry (``stg_entry_status``)."""

    PENDING = 0
    SUCCESS = 1
    ERROR = 2


@_named("stg_job_state_name")
class JobState(enum.IntEnum):
    """Where an entry's job is (``stg_job_state``)."""

    NONE = 0
    QUEUED = 1
    IN_FLIGHT = 2
    HELD = 3


@_named("stg_error_class_name")
class ErrorClass(enum.IntEnum):
    """What a failed export means (``stg_error_class``)."""

    NONE = 0
    AUTH = 1
    NOT_CATALOGUED = 2
    RATE_LIMITED = 3
    TRANSIENT = 4
    REJECTED = 5
    CONFLICT = 6


class Priority(enum.IntEnum):
    """Priority of a job, lower first (``stg_priority``)."""

    URGENT = 0
    LOW_STOCK = 1
    NORMAL = 2


class EntryFlag(enum.IntFlag):
    """Flags of an entry (``STG_ENTRY_*``)."""

    MIN_STOCK_REACHED = 0x01
    ABNORMAL = 0x02
    HAS_ACKED = 0x04
    LATE = 0x08
    NON_STOCK = 0x10


class JobFlag(enum.IntFlag):
    """Flags of a job (``STG_JOB_*``)."""

    MIN_STOCK_REACHED = 0x1
    NON_STOCK = 0x2


class Outcome(enum.IntEnum):
    """What became of a job (``stg_outcome``)."""

    OK = 0
    ERROR = 1
    ASYNC = 2


class EventType(enum.IntEnum):
    """What an event reports (``stg_event_type``)."""

    MIN_STOCK_REACHED = 1
    ABNORMAL_LATENCY = 2
    INTEGRATION_PAUSED = 3
    INTEGRATION_RESUMED = 4
    OUT_OF_SYNC = 5


class QueryFlag(enum.IntFlag):
    """Extra query criteria (``STG_QUERY_*``)."""

    ABNORMAL = 0x1
    LATE = 0x2
    MIN_STOCK_REACHED = 0x4
    MIN_STOCK = 0x4  #: old name of MIN_STOCK_REACHED (an alias), kept for callers


class RemoveFlag(enum.IntFlag):
    """Flags of a removal (``STG_REMOVE_*``)."""

    FORCE = 0x1


E = TypeVar("E", bound=enum.IntEnum)


_COERCED: dict = {}


def coerce(cls: Type[E], value: int) -> Union[E, int]:
    """``cls(value)``, or the plain int when a newer library returns an unknown value.

    Answers are cached per (class, value): constructing an enum member is
    slow next to the C call that produced the value, and the set of values
    seen is small.
    """
    key = (cls, value)
    hit = _COERCED.get(key)
    if hit is not None:
        return hit
    try:
        hit = cls(value)
    except ValueError:
        hit = int(value)
    if len(_COERCED) < 4096:  # flags combine, but never into many values
        _COERCED[key] = hit
    return hit


class Table(dict):
    """Value -> member for one enum or flag class, filled for every defined
    value (and, for flags, every combination of them); an unknown value
    reads as the plain int.  ``table[v]`` is one dict lookup: the hot paths
    use it instead of calling the enum class per value."""

    def __init__(self, cls: Type[enum.IntEnum]) -> None:
        super().__init__()
        if issubclass(cls, enum.IntFlag):
            bits = [int(m) for m in cls]
            for mask in range(1 << len(bits)):
                v = 0
                for i, b in enumerate(bits):
                    if mask >> i & 1:
                        v |= b
                self[v] = cls(v)
        else:
            for m in cls:
                self[int(m)] = m

    def __missing__(self, value: int) -> int:
        return value
