"""Helpers shared by the modules: text conversion and buffer handling."""
from __future__ import annotations

import array
import ctypes
import operator
import sys
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from .enums import Status
from .errors import InvalidArgument

Key = Union[str, bytes]

_NATIVE_PREFIXES = ("@", "=", "<" if sys.byteorder == "little" else ">")
_FOREIGN_PREFIXES = (">", "!") if sys.byteorder == "little" else ("<",)


def to_c(value: Optional[Key], what: str) -> Optional[bytes]:
    """A str/bytes key or text as NUL-free bytes for C (None stays None).

    Text is encoded as UTF-8 (surrogateescape, so text decoded from odd bytes
    round-trips).  Lengths are left for the library to judge.
    """
    if value is None:
        return None
    raw = _as_bytes(value)
    if raw is None:
        raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))
    if b"\0" in raw:
        raise InvalidArgument(Status.EINVAL, "%s contains a NUL character" % what)
    return raw


def _as_bytes(value: Any) -> Optional[bytes]:
    """str (UTF-8, surrogateescape) or bytes-like as bytes; None for other types."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def key(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A key (integration, SKU, category) checked in Python, as bytes for C.

    The messages name the argument and its value: ``sku must be a str or
    bytes of 1 to 1024 bytes, not None``.  ``optional`` lets None through
    (as NULL).
    """
    if value is None and optional:
        return None
    raw = _as_bytes(value)
    if raw is None:
        raise InvalidArgument(Status.EINVAL, "%s must be a str or bytes of 1 to %d bytes, not %s"
                              % (what, _KEY_MAX, _show(value)))
    if not 1 <= len(raw) <= _KEY_MAX:
        raise InvalidArgument(Status.EINVAL, "%s must be 1 to %d bytes, got %d: %s"
                              % (what, _KEY_MAX, len(raw), _show(value)))
    if b"\0" in raw:
        raise InvalidArgument(Status.EINVAL, "%s contains a NUL character: %s"
                              % (what, _show(value)))
    return raw


_KEY_MAX = 1024


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def from_c(raw: Optional[bytes]) -> Optional[str]:
    """C text (borrowed bytes) as str, None for NULL."""
    if raw is None:
        return None
    return raw.decode("utf-8", "surrogateescape")


def keys_array(values: Optional[Sequence[Optional[Key]]], n: int, what: str):
    """A ``const char *[n]`` from a sequence of str/bytes/None, or None."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise TypeError("%s must be a sequence of keys, not a single key" % what)
    items = [to_c(v, what) for v in values]
    if len(items) != n:
        raise ValueError("%s has %d items, expected %d" % (what, len(items), n))
    return (ctypes.c_char_p * n)(*items)


def _view(obj: Any, what: str) -> memoryview:
    try:
        mv = memoryview(obj)
    except TypeError:
        return None  # type: ignore[return-value]
    if not mv.c_contiguous:
        raise ValueError("%s: the buffer must be C-contiguous" % what)
    return mv


def _native_code(fmt: str) -> Optional[str]:
    """The struct code of a format with a native byte order, or None."""
    if fmt and fmt[0] in _FOREIGN_PREFIXES:
        return None
    if fmt and fmt[0] in _NATIVE_PREFIXES:
        fmt = fmt[1:]
    return fmt


def int64_in(obj: Any, what: str, n: Optional[int] = None):
    """A ``(c_int64 * n)`` over an input buffer, and its length.

    Accepts: ``array.array('q')`` (or ``'l'`` where it is 8 bytes), any
    C-contiguous buffer of 8-byte signed integers (memoryview, numpy int64,
    ctypes arrays; flattened in C order), raw bytes-like objects (format
    ``B``/``b``/``c``) holding native-endian int64 values, or a sequence of
    ints (converted once, in C, by :mod:`array`).  Writable buffers are used
    in place; read-only ones are copied once (``from_buffer_copy``).
    """
    mv = _view(obj, what)
    if mv is None:
        try:
            mv = memoryview(array.array("q", obj))
        except TypeError:
            raise TypeError("%s: expected a buffer or sequence of int64, got %s"
                            % (what, type(obj).__name__)) from None
    code = _native_code(mv.format)
    if code in ("q", "l") and mv.itemsize == 8:
        count = mv.nbytes // 8
    elif code in ("B", "b", "c") and mv.itemsize == 1:
        if mv.nbytes % 8:
            raise ValueError("%s: %d bytes is not a whole number of int64 values"
                             % (what, mv.nbytes))
        count = mv.nbytes // 8
    else:
        raise TypeError("%s: expected 8-byte signed integers (array('q'), int64), got format "
                        "%r with item size %d" % (what, mv.format, mv.itemsize))
    if n is not None and count != n:
        raise ValueError("%s has %d items, expected %d" % (what, count, n))
    ctype = ctypes.c_int64 * count
    if mv.readonly:
        return ctype.from_buffer_copy(mv), count
    return ctype.from_buffer(mv), count


def uint8_in(obj: Any, what: str, n: int):
    """A ``(c_uint8 * n)`` over a 1-byte-per-item buffer (bytes, bytearray,
    ``array('B')``, bool/uint8 arrays) or a sequence of truth values."""
    if obj is None:
        return None
    mv = _view(obj, what)
    if mv is None:
        try:
            mv = memoryview(array.array("B", [1 if v else 0 for v in obj]))
        except TypeError:
            raise TypeError("%s: expected a buffer or sequence of flags, got %s"
                            % (what, type(obj).__name__)) from None
    code = _native_code(mv.format)
    if mv.itemsize != 1 or code not in ("B", "b", "c", "?"):
        raise TypeError("%s: expected 1-byte items (bytes, array('B'), bool), got format %r "
                        "with item size %d" % (what, mv.format, mv.itemsize))
    if mv.nbytes != n:
        raise ValueError("%s has %d items, expected %d" % (what, mv.nbytes, n))
    ctype = ctypes.c_uint8 * n
    if mv.readonly:
        return ctype.from_buffer_copy(mv)
    return ctype.from_buffer(mv)


def zeros(code: str, n: int) -> array.array:
    """A zeroed ``array.array`` of type code ``code`` and n items.

    Repetition fills in one pass; ``array(code, bytes(...))`` would zero a
    bytes object first and copy it.
    """
    return array.array(code, (0,)) * n


def out_view(arr: Any, code: str, n: int, what: str):
    """A ctypes view writing into a caller's output ``array.array`` (``out=``).

    The array must have type code ``code`` (``'B'`` or ``'q'``) and exactly
    ``n`` items: outputs are never resized behind the caller's back.
    """
    if not isinstance(arr, array.array) or arr.typecode != code:
        raise TypeError("%s must be an array('%s')" % (what, code))
    if len(arr) != n:
        raise ValueError("%s has %d items, expected %d" % (what, len(arr), n))
    return (ctypes.c_uint8 * n if code == "B" else ctypes.c_int64 * n).from_buffer(arr)


def out_or_new(out: Any, cls: Any, n: int, article: str = "a") -> Any:
    """The caller's ``out=`` checked to be a ``cls``, or ``cls.empty(n)``."""
    if out is None:
        return cls.empty(n)
    if not isinstance(out, cls):
        raise TypeError("out must be %s %s, not %s" % (article, cls.__name__, type(out).__name__))
    return out


assert array.array("q").itemsize == 8, "array('q') must be 8 bytes"


def _int(value: Any, what: str, lo: int, hi: int, ctype: str) -> int:
    # The common case first: a plain int in range costs two compares, which
    # matters on per-call paths such as decide().
    if type(value) is int and lo <= value <= hi:
        return value
    return _int_slow(value, what, lo, hi, ctype)


def _int_slow(value: Any, what: str, lo: int, hi: int, ctype: str) -> int:
    import operator
    from .errors import OutOfRange  # here: errors imports this module's users
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (what, type(value).__name__)) from None
    if not lo <= v <= hi:
        raise OutOfRange(Status.ERANGE, "%s = %d does not fit a C %s" % (what, v, ctype))
    return v


def i64(value: Any, what: str) -> int:
    """``value`` as an int that fits int64_t (ctypes would silently truncate)."""
    return _int(value, what, -(1 << 63), (1 << 63) - 1, "int64_t")


def u64(value: Any, what: str) -> int:
    """``value`` as an int that fits uint64_t."""
    return _int(value, what, 0, (1 << 64) - 1, "uint64_t")


def i32(value: Any, what: str) -> int:
    """``value`` as an int that fits int."""
    return _int(value, what, -(1 << 31), (1 << 31) - 1, "int")


def u32(value: Any, what: str) -> int:
    """``value`` as an int that fits uint32_t."""
    return _int(value, what, 0, (1 << 32) - 1, "uint32_t")


def size(value: Any, what: str) -> int:
    """``value`` as an int that fits size_t."""
    return _int(value, what, 0, (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1, "size_t")


class Record(tuple):
    """A light, immutable result record: a tuple with named members.

    Subclasses list ``_fields`` and, in ``_tables``, the members that are
    enums or flags (a :class:`~stockguard.enums.Table` each).  The per-call
    paths build records with one ``tuple.__new__`` straight from unpacked C
    structs; members are read by the C-level getters namedtuple uses.  A
    member named in ``_lazy`` may be stored as the raw int: its getter looks
    the enum member up when read (for records built on every call and
    rarely read whole).  Equality and hashing are the tuple's (an IntEnum
    equals its int).
    """

    __slots__ = ()
    _fields: Tuple[str, ...] = ()
    _tables: Dict[str, Any] = {}
    _lazy: frozenset = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for i, name in enumerate(cls._fields):
            if name in cls._lazy:
                table = cls._tables[name]
                prop = property(lambda self, _i=i, _t=table: _t[self[_i]],
                                doc="member %d: %s" % (i, name))
            else:
                prop = _getter(i, "member %d: %s" % (i, name))
            setattr(cls, name, prop)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        fields = cls._fields
        if kwargs:
            try:
                args = args + tuple(kwargs.pop(f) for f in fields[len(args):])
            except KeyError as exc:
                raise TypeError("%s() missing argument %s" % (cls.__name__, exc)) from None
            if kwargs:
                raise TypeError("%s() got unexpected arguments %s"
                                % (cls.__name__, ", ".join(sorted(kwargs))))
        if len(args) != len(fields):
            raise TypeError("%s() takes %d arguments (%d given)"
                            % (cls.__name__, len(fields), len(args)))
        tables = cls._tables
        return tuple.__new__(cls, (tables[f][v] if f in tables else v
                                   for f, v in zip(fields, args)))

    def __getnewargs__(self) -> tuple:
        return tuple(self)

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (f, getattr(self, f)) for f in self._fields))

    def _asdict(self) -> Dict[str, Any]:
        """The members by name."""
        return {f: getattr(self, f) for f in self._fields}


def _getter(i: int, doc: str) -> Any:
    # collections._tuplegetter is namedtuple's C descriptor (CPython 3.8+);
    # elsewhere an itemgetter property does the same, a little slower.
    import collections
    tg = getattr(collections, "_tuplegetter", None)
    if tg is not None:
        return tg(i, doc)
    return property(operator.itemgetter(i), doc=doc)
