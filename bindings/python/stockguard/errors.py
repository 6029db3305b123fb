"""Exceptions: one class per status code, under :class:`StockguardError`.

Every failing C call raises the subclass of its status code, carrying the
code and the library's message (``stg_policy_errmsg()``, ``stg_log_errmsg()``
or ``stg_last_error()``).  Some subclasses also derive from the matching
built-in exception, so ``except ValueError`` catches an invalid argument.

Calls that can fail part-way attach what was done before the failure as
attributes of the exception: ``done``/``results`` (``Log.submit_batch``),
``sent`` (``Log.pump``), ``count`` (``reprocess_matching``/``remove_matching``),
``removed`` (``expire``) and ``pending`` (``flush``).
"""
from __future__ import annotations

from typing import Dict, Optional, Type

from .enums import Status


class StockguardError(Exception):
    """Base class: a status ``code`` (negative int, or None for binding-level
    errors) and the library's ``message``."""

    def __init__(self, code: Optional[int], message: str = "") -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def status(self) -> Optional[Status]:
        """The code as a :class:`~stockguard.enums.Status` (None when unknown or unset)."""
        try:
            return Status(self.code) if self.code is not None else None
        except ValueError:
            return None

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        name = self.status.name if self.status is not None else str(self.code)
        return "%s [%s]" % (self.message, name) if self.message else name


class InvalidArgument(StockguardError, ValueError):
    """``STG_EINVAL``: an argument is NULL, out of range or malformed."""


class OutOfMemory(StockguardError, MemoryError):
    """``STG_ENOMEM``: the allocator returned NULL."""


class OutOfRange(InvalidArgument):
    """``STG_ERANGE``: a setting or quantity is outside its allowed range."""


class NotFound(StockguardError, LookupError):
    """``STG_ENOTFOUND``: no such entry, integration or override."""


class VersionMismatch(StockguardError):
    """``STG_EVERSION``: a struct version, or the loaded library's major
    version, is not the one expected."""


class StorageError(StockguardError):
    """``STG_ESTORAGE``: the storage hook reported a failure."""


class TransportError(StockguardError):
    """``STG_ETRANSPORT``: the transport hook reported a failure of its own."""


class Busy(StockguardError):
    """``STG_EBUSY``: the entry has a job handed to the transport."""


class Recursive(StockguardError):
    """``STG_ERECURSIVE``: a call into a log from inside one of its own hooks."""


class Corrupt(StockguardError, ValueError):
    """``STG_ECORRUPT``: encoded bytes fail their checksum or are malformed."""


class Truncated(Corrupt):
    """``STG_ETRUNCATED``: encoded bytes end before the record does."""


class StateError(StockguardError):
    """``STG_ESTATE``: the call does not fit the object's state (also: the
    handle is closed)."""


class AlreadyExists(StockguardError):
    """``STG_EEXISTS``: reserved, not raised by 1.x (kept for the number)."""


class CallbackError(StockguardError):
    """``STG_ECALLBACK``: reserved, not raised by 1.x (clock and event hooks cannot fail)."""


class Overflow(StockguardError, OverflowError):
    """``STG_EOVERFLOW``: a result or buffer would not fit its type."""


class LimitExceeded(StockguardError):
    """``STG_ELIMIT``: a fixed limit of the library is reached (65,535 integrations per log)."""


class Fenced(StorageError):
    """``STG_EFENCED``: storage says this log lost its ownership of the data
    (another instance holds the lease now); the log writes and sends nothing
    more: close it.  A :class:`StorageError`, so code catching storage
    failures sees it too."""


class LibraryError(StockguardError, ImportError):
    """The shared library could not be used (binding-level; ``code`` is None)."""

    def __init__(self, message: str) -> None:
        StockguardError.__init__(self, None, message)

    def __reduce__(self):  # keep pickling working with the one-argument signature
        return (type(self), (self.message,))


class LibraryNotFound(LibraryError):
    """No libstockguard could be loaded from any of the places tried."""


class MissingSymbol(LibraryError):
    """The loaded library lacks a symbol the binding needs."""

    def __init__(self, symbol: str, path: str) -> None:
        LibraryError.__init__(
            self, "symbol %r not found in %s (is it an older or foreign libstockguard?)"
            % (symbol, path))
        self.symbol = symbol
        self.path = path

    def __reduce__(self):
        return (type(self), (self.symbol, self.path))


_BY_CODE: Dict[int, Type[StockguardError]] = {
    Status.EINVAL: InvalidArgument,
    Status.ENOMEM: OutOfMemory,
    Status.ERANGE: OutOfRange,
    Status.ENOTFOUND: NotFound,
    Status.EVERSION: VersionMismatch,
    Status.ESTORAGE: StorageError,
    Status.ETRANSPORT: TransportError,
    Status.EBUSY: Busy,
    Status.ERECURSIVE: Recursive,
    Status.ECORRUPT: Corrupt,
    Status.ETRUNCATED: Truncated,
    Status.ESTATE: StateError,
    Status.EEXISTS: AlreadyExists,
    Status.ECALLBACK: CallbackError,
    Status.EOVERFLOW: Overflow,
    Status.ELIMIT: LimitExceeded,
    Status.EFENCED: Fenced,
}


def error_class(code: int) -> Type[StockguardError]:
    """The exception class for a status code (:class:`StockguardError` when unknown)."""
    return _BY_CODE.get(code, StockguardError)


def from_status(code: int, message: str = "") -> StockguardError:
    """An exception instance for a failing status code."""
    return error_class(code)(code, message)
