"""stockguard: marketplace inventory safety and sync, over the C library (ctypes).

Quick start::

    import stockguard as sg

    with sg.Policy(min_stock=10) as policy:
        ev = policy.evaluate(8)          # published 0, rule CUTOFF
        print(ev.explanation)

    def send(job):                       # your marketplace call
        return sg.Result.ok()

    with sg.Log(transport=send) as log:
        log.submit("amazon", "SKU-1", 3, sequence=1)
        log.pump()
        print(log.get("amazon", "SKU-1").status)   # EntryStatus.SUCCESS

The shared library is found through ``STOCKGUARD_LIBRARY`` (bound at
import), else :func:`set_library_path`, next to this package, then the
system (bound at first use); its major version is checked when it is bound.
See README.md beside the package for the whole guide.
"""
from __future__ import annotations

from typing import Tuple

from . import _native
from ._native import ENTRY_ENCODED_MAX, KEY_MAX, MESSAGE_MAX, QUANTITY_MAX
from .entry import Entry, classify_http, decode, encode
from .enums import (ChangeFlag, Decision, EntryFlag, EntryStatus, ErrorClass, EventType, JobFlag,
                    JobState, MinSource, Mode, Outcome, Priority, QueryFlag, Reason, RemoveFlag,
                    Rule, Status, WarningFlag)
from .errors import (AlreadyExists, Busy, CallbackError, Corrupt, InvalidArgument, LibraryError,
                     Fenced, LibraryNotFound, LimitExceeded, MissingSymbol, NotFound, OutOfMemory,
                     OutOfRange, Overflow, Recursive, StateError, StockguardError, StorageError, TransportError,
                     Truncated, VersionMismatch)
from .filter import FilterBatch, FilterResult, decide, filter_batch
from .hooks import Event, IntegrationState, Job, ManualClock, MemoryStorage, Result
from .log import (OBSERVED, Counts, LimitState, Log, MessageRule, Stats, Submission, SubmitBatch,
                  SubmitResult, default_rules, next_sequence)
from .policy import Evaluation, EvaluationBatch, Policy

#: Version of this binding (it follows the C library's version it was written for).
__version__ = "1.0.0"


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH" (``stg_version_string()``)."""
    return _native.lib.stg_version_string().decode("ascii")


def version_number() -> int:
    """The loaded library's version as 0xMMmmpp (``stg_version_number()``)."""
    return int(_native.lib.stg_version_number())


def version_info() -> Tuple[int, int, int]:
    """The loaded library's (major, minor, patch) (``stg_version()``)."""
    import ctypes
    parts = [ctypes.c_int() for _ in range(3)]
    _native.lib.stg_version(*(ctypes.byref(p) for p in parts))
    return (parts[0].value, parts[1].value, parts[2].value)


def library_path() -> str:
    """Path of the loaded shared library (binds it now if it is not yet)."""
    return _native.lib.path


def set_library_path(path: str) -> None:
    """Choose the shared library file before the binding first uses it.

    Without ``STOCKGUARD_LIBRARY`` in the environment the library is bound at
    the first call that needs it, not at import, so a host can say where it
    is::

        import stockguard
        stockguard.set_library_path("/opt/app/lib/libstockguard.so.1")

    Raises :class:`LibraryError` when a different library is already bound
    (the same path again is a no-op); a path that cannot be loaded raises
    :class:`LibraryNotFound` at the first use.
    """
    _native.set_library_path(path)


def strerror(code: int) -> str:
    """Static English text of a status code (``stg_strerror()``)."""
    from ._util import i32
    return _native.lib.stg_strerror(i32(code, "code")).decode("utf-8", "replace")


def last_error() -> str:
    """Message of the last failure on this thread (``stg_last_error()``, with the
    C function name that starts it given as the Python one)."""
    return _native.python_message(
        (_native.lib.stg_last_error() or b"").decode("utf-8", "replace"))


def last_error_code() -> int:
    """Code of the last failure on this thread, 0 when none (``stg_last_error_code()``)."""
    return int(_native.lib.stg_last_error_code())


__all__ = [
    # lifetime objects
    "Policy", "Log",
    # results and records
    "Evaluation", "EvaluationBatch", "FilterResult", "FilterBatch", "Entry", "Job", "Result",
    "Event", "Submission", "SubmitResult", "SubmitBatch", "Counts", "Stats", "LimitState",
    "MessageRule", "default_rules", "OBSERVED",
    "IntegrationState",
    # hooks helpers
    "ManualClock", "MemoryStorage",
    # functions
    "decide", "filter_batch", "encode", "decode", "classify_http", "strerror", "last_error",
    "last_error_code", "version", "version_number", "version_info", "library_path",
    "set_library_path", "next_sequence",
    # enums
    "Status", "Mode", "MinSource", "Rule", "WarningFlag", "Decision", "Reason", "ChangeFlag",
    "EntryStatus", "JobState", "ErrorClass", "Priority", "EntryFlag", "JobFlag", "Outcome",
    "EventType", "QueryFlag", "RemoveFlag",
    # errors
    "StockguardError", "InvalidArgument", "OutOfMemory", "OutOfRange", "NotFound",
    "VersionMismatch", "StorageError", "TransportError", "Busy", "Recursive", "Corrupt",
    "Truncated", "StateError", "AlreadyExists", "CallbackError", "Overflow", "LimitExceeded", "Fenced", "LibraryError",
    "LibraryNotFound", "MissingSymbol",
    # constants
    "QUANTITY_MAX", "KEY_MAX", "MESSAGE_MAX", "ENTRY_ENCODED_MAX", "__version__",
]
