"""Low-level ctypes layer: C struct layouts, the prototype table, library loading.

Everything here mirrors ``include/stockguard/*.h`` exactly; the public,
Pythonic API lives in the other modules of the package.  The library is
located and bound once: at import of :mod:`stockguard` when
``STOCKGUARD_LIBRARY`` is set, else at the first use (so that
:func:`set_library_path` can choose the file before that), in this order:

1. the path in the ``STOCKGUARD_LIBRARY`` environment variable (no fallback
   when it is set but cannot be loaded);
2. a copy next to the package (``stockguard/libstockguard.so.1``);
3. the system's dynamic loader (soname ``libstockguard.so.1``), then
   :func:`ctypes.util.find_library`.

Every function of the C ABI is declared in :data:`PROTOTYPES`, one
``(name, argtypes, restype, errcheck)`` row each.  A missing symbol raises
:class:`~stockguard.errors.MissingSymbol` naming the symbol and the library
path; a library of another major version raises
:class:`~stockguard.errors.VersionMismatch`.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import operator
import os
import struct
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_uint8, c_void_p)
from typing import Any, Callable, List, Mapping, Optional, Tuple

from . import errors

#: Major version of the C ABI this binding is written for.
ABI_MAJOR = 1
#: Oldest minor version (of :data:`ABI_MAJOR`) that has every symbol used here
#: (1.1: stg_evaluation_explain).
ABI_MINOR_MIN = 1

SONAME = "libstockguard.so.1"
#: Names a copy shipped next to the package may have, per platform.
LOCAL_NAMES = ("libstockguard.so.1", "libstockguard.so", "libstockguard.1.dylib",
               "libstockguard.dylib", "stockguard.dll", "libstockguard.dll")
ENV_VAR = "STOCKGUARD_LIBRARY"

# ------------------------------------------------------------------ constants
# (from the headers; the numbers are part of the ABI)

QUANTITY_MAX = 0x3FFFFFFFFFFFFFFF
KEY_MAX = 1024
EXPLAIN_MAX = 256
MESSAGE_MAX = 1024
ENTRY_ENCODED_MAX = 134 + 2 * (KEY_MAX + 1) + (MESSAGE_MAX + 1)
REASON_COUNT = 11
ERRCLASS_COUNT = 6
STATS_REASONS_MAX = 32
STATS_CLASSES_MAX = 16

ALLOCATOR_VERSION = 1
CHANGE_VERSION = 1
ENTRY_VERSION = 1
STORAGE_VERSION = 2
INTEGRATION_STATE_VERSION = 1
RESULT_VERSION = 2
TRANSPORT_VERSION = 1
CLOCK_VERSION = 1
EVENTS_VERSION = 1
LOG_OPTIONS_VERSION = 1
SUBMIT_VERSION = 1
QUERY_VERSION = 1

# -------------------------------------------------------------- opaque types


class stg_policy(Structure):
    """Opaque ``stg_policy``."""


class stg_log(Structure):
    """Opaque ``stg_log``."""


policy_p = POINTER(stg_policy)
log_p = POINTER(stg_log)

# ------------------------------------------------------------------- structs

MALLOC_FN = CFUNCTYPE(c_void_p, c_size_t, c_void_p)
REALLOC_FN = CFUNCTYPE(c_void_p, c_void_p, c_size_t, c_void_p)
FREE_FN = CFUNCTYPE(None, c_void_p, c_void_p)


class stg_allocator(Structure):
    _fields_ = [("version", c_uint), ("malloc_fn", MALLOC_FN), ("realloc_fn", REALLOC_FN),
                ("free_fn", FREE_FN), ("payload", c_void_p)]


class stg_evaluation(Structure):
    _fields_ = [("available", c_int64), ("published", c_int64), ("min_stock", c_int64),
                ("min_source", c_int), ("rule", c_int), ("warnings", c_uint),
                ("reserved_", c_uint * 5)]


class stg_change(Structure):
    _fields_ = [("version", c_uint), ("flags", c_uint), ("sku", c_char_p),
                ("category", c_char_p), ("from_", c_int64), ("to", c_int64),
                ("since_export_ms", c_int64)]


class stg_filter_result(Structure):
    _fields_ = [("decision", c_int), ("reason", c_int), ("from_", stg_evaluation),
                ("to", stg_evaluation), ("reserved_", c_uint * 4)]


class stg_entry(Structure):
    _fields_ = [("version", c_uint), ("status", c_int), ("integration", c_char_p),
                ("sku", c_char_p), ("message", c_char_p), ("available", c_int64),
                ("published", c_int64), ("acked", c_int64), ("sequence", c_int64),
                ("changed_at", c_int64), ("job_since", c_int64), ("first_failed_at", c_int64),
                ("last_attempt_at", c_int64), ("acked_at", c_int64),
                ("next_attempt_at", c_int64), ("latency_ms", c_int64), ("job_id", c_uint64),
                ("attempts", c_uint32), ("job_attempts", c_uint32), ("job_transient", c_uint32),
                ("job_state", c_int), ("error_class", c_int),
                ("http_status", c_int), ("priority", c_int), ("reason", c_int),
                ("flags", c_uint), ("min_source", c_int), ("rule", c_int),
                ("reserved_", c_uint32 * 2)]


ENTRY_SINK_FN = CFUNCTYPE(c_int, c_void_p, POINTER(stg_entry))
# The sink arrives as a plain address and is wrapped with ENTRY_SINK_FN.
STORAGE_LOAD_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)
# Hook callbacks take their struct pointers as plain addresses (c_void_p):
# the binding reads the structs with one struct.unpack (see Layout), which
# is cheaper than the POINTER object ctypes would build per call.
STORAGE_WRITE_FN = CFUNCTYPE(c_int, c_void_p, c_void_p)
STORAGE_REMOVE_FN = CFUNCTYPE(c_int, c_char_p, c_char_p, c_void_p)
# begin, commit and rollback (storage version 2).
STORAGE_TXN_FN = CFUNCTYPE(c_int, c_void_p)
INTEGRATION_PAUSED = 0x1


class stg_integration_state(Structure):
    _fields_ = [("version", c_uint), ("flags", c_uint), ("integration", c_char_p),
                ("updated_at", c_int64)]


INTEGRATION_SINK_FN = CFUNCTYPE(c_int, c_void_p, POINTER(stg_integration_state))
# (state, payload) and (sink, sink_ctx, payload), pointers as plain addresses.
STORAGE_WRITE_INTEGRATION_FN = CFUNCTYPE(c_int, c_void_p, c_void_p)
STORAGE_LOAD_INTEGRATIONS_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)


class stg_storage(Structure):
    _fields_ = [("version", c_uint), ("load", STORAGE_LOAD_FN), ("write", STORAGE_WRITE_FN),
                ("remove", STORAGE_REMOVE_FN), ("payload", c_void_p),
                ("begin", STORAGE_TXN_FN), ("commit", STORAGE_TXN_FN),
                ("rollback", STORAGE_TXN_FN),
                ("write_integration", STORAGE_WRITE_INTEGRATION_FN),
                ("load_integrations", STORAGE_LOAD_INTEGRATIONS_FN)]


class stg_job(Structure):
    _fields_ = [("id", c_uint64), ("integration", c_char_p), ("sku", c_char_p),
                ("published", c_int64), ("available", c_int64), ("changed_at", c_int64),
                ("attempt", c_uint32), ("priority", c_int), ("flags", c_uint),
                ("reserved_", c_uint32 * 3)]


class stg_job_result(Structure):
    _fields_ = [("version", c_uint), ("outcome", c_int), ("error_class", c_int),
                ("http_status", c_int), ("message", c_char_p), ("retry_after_ms", c_int64),
                # version 2: the quota the marketplace announced
                ("quota_limit", c_int64), ("quota_window_ms", c_int64),
                ("quota_remaining", c_int64), ("quota_reset_ms", c_int64)]


SEND_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)
SEND_BATCH_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p, c_void_p)


class stg_transport(Structure):
    _fields_ = [("version", c_uint), ("send", SEND_FN), ("send_batch", SEND_BATCH_FN),
                ("payload", c_void_p)]


NOW_FN = CFUNCTYPE(c_int64, c_void_p)


class stg_clock(Structure):
    _fields_ = [("version", c_uint), ("now_ms", NOW_FN), ("payload", c_void_p)]


class stg_event(Structure):
    _fields_ = [("type", c_int), ("http_status", c_int), ("integration", c_char_p),
                ("sku", c_char_p), ("message", c_char_p), ("available", c_int64),
                ("min_stock", c_int64), ("latency_ms", c_int64), ("time", c_int64),
                ("observed", c_int64), ("reserved_", c_uint32 * 2)]


EVENT_FN = CFUNCTYPE(None, c_void_p, c_void_p)


class stg_events(Structure):
    _fields_ = [("version", c_uint), ("on_event", EVENT_FN), ("payload", c_void_p)]


class stg_log_options(Structure):
    _fields_ = [("version", c_uint), ("allocator", POINTER(stg_allocator)),
                ("storage", POINTER(stg_storage)), ("transport", POINTER(stg_transport)),
                ("clock", POINTER(stg_clock)), ("events", POINTER(stg_events)),
                ("latency_limit_ms", c_int64), ("backoff_base_ms", c_int64),
                ("backoff_max_ms", c_int64), ("catalogue_retry_ms", c_int64),
                ("success_max_age_ms", c_int64), ("success_max_count", c_uint64),
                ("jitter_seed", c_uint64), ("max_transient_attempts", c_uint32),
                ("reserved_", c_uint32 * 5)]


class stg_submit(Structure):
    _fields_ = [("version", c_uint), ("flags", c_uint), ("integration", c_char_p),
                ("sku", c_char_p), ("category", c_char_p), ("available", c_int64),
                ("sequence", c_int64), ("changed_at", c_int64)]


class stg_submit_result(Structure):
    _fields_ = [("decision", c_int), ("reason", c_int), ("published", c_int64),
                ("warnings", c_uint), ("priority", c_int), ("job_id", c_uint64),
                ("reserved_", c_uint32 * 4)]


class stg_query(Structure):
    _fields_ = [("version", c_uint), ("flags", c_uint), ("integration", c_char_p),
                ("sku_prefix", c_char_p), ("status", c_int), ("error_class", c_int)]


class stg_counts(Structure):
    _fields_ = [("pending", c_uint64), ("success", c_uint64), ("error", c_uint64),
                ("held", c_uint64), ("late", c_uint64), ("abnormal", c_uint64),
                ("reserved_", c_uint64 * 4)]


class stg_message_rule(Structure):
    _fields_ = [("version", c_uint), ("http_min", c_int), ("http_max", c_int), ("match", c_int),
                ("text", c_char_p), ("error_class", c_int)]


class stg_observation(Structure):
    _fields_ = [("version", c_uint), ("flags", c_uint), ("integration", c_char_p),
                ("sku", c_char_p), ("quantity", c_int64), ("observed_at", c_int64)]


class stg_stats(Structure):
    _fields_ = [("changes", c_uint64), ("exports", c_uint64), ("coalesced", c_uint64),
                ("stale", c_uint64), ("attempts", c_uint64), ("successes", c_uint64),
                ("abnormal", c_uint64), ("warnings", c_uint64),
                ("latency_p50_ms", c_int64), ("latency_p95_ms", c_int64),
                ("latency_p99_ms", c_int64), ("latency_max_ms", c_int64),
                ("corrections", c_uint64),
                ("reserved_", c_uint64 * 5), ("cooldowns", c_uint64),
                ("saved_by_coalescing", c_uint64), ("nreasons", c_uint32), ("nclasses", c_uint32),
                ("skips", c_uint64 * STATS_REASONS_MAX),
                ("errors", c_uint64 * STATS_CLASSES_MAX)]


class stg_limit_state(Structure):
    _fields_ = [("cooling_until", c_int64), ("rate_per_s", c_double),
                ("ceiling_per_s", c_double), ("announced_per_s", c_double),
                ("cooldowns", c_uint64), ("backoff_level", c_uint32), ("shared", c_int),
                ("reserved_", c_uint64 * 4)]


#: Every struct the binding lays out, by its C name (used by the layout test).
STRUCTS = {cls.__name__: cls for cls in (
    stg_allocator, stg_evaluation, stg_change, stg_filter_result, stg_entry, stg_storage,
    stg_job, stg_job_result, stg_transport, stg_clock, stg_event, stg_events, stg_log_options,
    stg_submit, stg_submit_result, stg_query, stg_counts, stg_stats, stg_integration_state,
    stg_limit_state)}

# -------------------------------------------------------- flat layouts
#
# The hot paths read and write whole structs with :mod:`struct` in one call
# instead of one ctypes attribute at a time.  Their formats are derived from
# the ``_fields_`` above, so a change of a C layout is an edit of
# ``_fields_`` only; code finds a member by name in :attr:`Layout.index`.

_CODES = {ctypes.c_int: "i", ctypes.c_uint: "I", ctypes.c_int64: "q", ctypes.c_uint64: "Q",
          ctypes.c_uint32: "I", ctypes.c_int32: "i", ctypes.c_uint8: "B",
          ctypes.c_char_p: "P", ctypes.c_void_p: "P"}


def _flatten(cls: Any, prefix: str, names: List[str]) -> str:
    fmt = ""
    for name, ctype in cls._fields_:
        full = prefix + name
        if isinstance(ctype, type) and issubclass(ctype, Structure):
            fmt += _flatten(ctype, full + ".", names)
        elif isinstance(ctype, type) and issubclass(ctype, ctypes.Array):
            fmt += _CODES[ctype._type_] * ctype._length_
            names.extend("%s[%d]" % (full, i) for i in range(ctype._length_))
        else:
            fmt += _CODES.get(ctype, "P")   # pointers and function pointers
            names.append(full)
    return fmt


class Layout:
    """A ctypes struct seen as one :class:`struct.Struct` (native alignment).

    ``names`` are the flattened members in order (``to.published`` for a
    nested struct, ``skips[3]`` for an array item); ``index[name]`` is a
    member's position in the tuple that ``struct.unpack_from`` gives, and
    ``offset[name]`` a top-level member's byte offset.
    """

    def __init__(self, cls: Any) -> None:
        names: List[str] = []
        fmt = _flatten(cls, "", names)
        self.codes = list(fmt)
        # "0P" pads the end to pointer alignment, as the C compiler does
        self.struct = struct.Struct("@" + fmt + "0P")
        if self.struct.size != ctypes.sizeof(cls):
            raise errors.LibraryError("binding bug: %s is %d bytes, its format %r gives %d"
                                      % (cls.__name__, ctypes.sizeof(cls), fmt,
                                         self.struct.size))
        self.cls = cls
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.size = self.struct.size
        self.offset = {n: getattr(cls, n).offset for n, _ in cls._fields_}

    def only(self, *names: str) -> struct.Struct:
        """A :class:`struct.Struct` of this layout that reads just ``names``
        (in layout order; every other member is skipped as pad bytes)."""
        wanted = set(names)
        unknown = wanted - set(self.names)
        if unknown:
            raise KeyError("no member %s in %s" % (", ".join(sorted(unknown)), self.cls.__name__))
        fmt = "".join(code if name in wanted else "%dx" % struct.calcsize("@" + code)
                      for name, code in zip(self.names, self.codes))
        only = struct.Struct("@" + fmt)
        assert only.size <= self.size
        return only

    def pick(self, *names: str) -> Callable[[tuple], Any]:
        """An ``operator.itemgetter`` of the named members of an unpacked tuple."""
        return operator.itemgetter(*(self.index[n] for n in names))


LAYOUTS = {cls.__name__: Layout(cls) for cls in (
    stg_evaluation, stg_change, stg_filter_result, stg_entry, stg_job, stg_event, stg_submit,
    stg_submit_result, stg_job_result)}

# ---------------------------------------------------------- prototype table

#: errcheck markers: which message goes with a failing status.
ERR_POLICY = "policy"   # stg_policy_errmsg(args[0])
ERR_LOG = "log"         # stg_log_errmsg(args[0])
ERR_GLOBAL = "global"   # stg_last_error() (constructors, stateless functions)

P = POINTER
_int_p = P(c_int)
_i64_p = P(c_int64)
_u8_p = P(c_uint8)
_size_p = P(c_size_t)
_str_arr = P(c_char_p)

#: (name, argtypes, restype, errcheck) for every symbol of libstockguard.map.
#: errcheck is None (the value is returned as is) or one of the ERR_* markers,
#: which :func:`bind` turns into a check raising a StockguardError subclass
#: with the library's message when the returned status is negative.
PROTOTYPES: List[Tuple[str, list, Any, Optional[str]]] = [
    # common.h / version.h
    ("stg_strerror", [c_int], c_char_p, None),
    ("stg_last_error", [], c_char_p, None),
    ("stg_last_error_code", [], c_int, None),
    ("stg_allocator_init", [P(stg_allocator), c_uint], c_int, ERR_GLOBAL),
    ("stg_version_number", [], c_uint, None),
    ("stg_version_string", [], c_char_p, None),
    ("stg_version", [_int_p, _int_p, _int_p], None, None),
    # policy.h
    ("stg_policy_new", [P(policy_p), P(stg_allocator)], c_int, ERR_GLOBAL),
    ("stg_policy_copy", [P(policy_p), policy_p], c_int, ERR_GLOBAL),
    ("stg_policy_free", [policy_p], None, None),
    ("stg_policy_errmsg", [policy_p], c_char_p, None),
    ("stg_policy_set_min_stock", [policy_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_min_stock", [policy_p], c_int64, None),
    ("stg_policy_set_mode", [policy_p, c_int], c_int, ERR_POLICY),
    ("stg_policy_mode", [policy_p], c_int, None),
    ("stg_policy_set_allocation", [policy_p, c_int], c_int, ERR_POLICY),
    ("stg_policy_allocation", [policy_p], c_int, None),
    ("stg_policy_set_cap", [policy_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_cap", [policy_p], c_int64, None),
    ("stg_policy_set_window", [policy_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_window", [policy_p], c_int64, None),
    ("stg_policy_set_drift", [policy_p, c_int], c_int, ERR_POLICY),
    ("stg_policy_drift", [policy_p], c_int, None),
    ("stg_policy_set_heartbeat", [policy_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_heartbeat", [policy_p], c_int64, None),
    ("stg_policy_set_sku_min", [policy_p, c_char_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_clear_sku_min", [policy_p, c_char_p], c_int, ERR_POLICY),
    ("stg_policy_set_category_min", [policy_p, c_char_p, c_int64], c_int, ERR_POLICY),
    ("stg_policy_clear_category_min", [policy_p, c_char_p], c_int, ERR_POLICY),
    ("stg_policy_resolve_min", [policy_p, c_char_p, c_char_p, _i64_p, _int_p], c_int,
     ERR_POLICY),
    ("stg_policy_evaluate", [policy_p, c_char_p, c_char_p, c_int64, P(stg_evaluation)], c_int,
     ERR_POLICY),
    ("stg_evaluation_explain", [P(stg_evaluation), c_char_p, c_size_t, _size_p], c_int, None),
    ("stg_policy_evaluate_batch", [policy_p, c_size_t, _str_arr, _str_arr, _i64_p, _i64_p,
                                   _u8_p], c_int, ERR_POLICY),
    ("stg_rule_name", [c_int], c_char_p, None),
    ("stg_min_source_name", [c_int], c_char_p, None),
    # filter.h
    ("stg_change_init", [P(stg_change), c_uint], c_int, ERR_GLOBAL),
    ("stg_filter_decide", [policy_p, P(stg_change), P(stg_filter_result)], c_int, ERR_POLICY),
    ("stg_filter_batch", [policy_p, c_size_t, _str_arr, _str_arr, _i64_p, _u8_p, _i64_p, _u8_p,
                          _i64_p, _u8_p, _u8_p, _i64_p, _u8_p], c_int, ERR_POLICY),
    ("stg_decision_name", [c_int], c_char_p, None),
    ("stg_reason_name", [c_int], c_char_p, None),
    # entry.h
    ("stg_entry_init", [P(stg_entry), c_uint], c_int, ERR_GLOBAL),
    ("stg_entry_encode", [P(stg_entry), c_void_p, c_size_t, _size_p], c_int, ERR_GLOBAL),
    ("stg_entry_decode", [c_void_p, c_size_t, P(stg_entry)], c_int, ERR_GLOBAL),
    ("stg_entry_status_name", [c_int], c_char_p, None),
    ("stg_error_class_name", [c_int], c_char_p, None),
    ("stg_job_state_name", [c_int], c_char_p, None),
    ("stg_classify_http", [c_int], c_int, None),
    # hooks.h
    ("stg_storage_init", [P(stg_storage), c_uint], c_int, ERR_GLOBAL),
    ("stg_job_result_init", [P(stg_job_result), c_uint], c_int, ERR_GLOBAL),
    ("stg_integration_state_init", [P(stg_integration_state), c_uint], c_int, ERR_GLOBAL),
    ("stg_transport_init", [P(stg_transport), c_uint], c_int, ERR_GLOBAL),
    ("stg_clock_init", [P(stg_clock), c_uint], c_int, ERR_GLOBAL),
    ("stg_events_init", [P(stg_events), c_uint], c_int, ERR_GLOBAL),
    # log.h
    ("stg_log_options_init", [P(stg_log_options), c_uint], c_int, ERR_GLOBAL),
    ("stg_log_open", [P(log_p), P(stg_log_options)], c_int, ERR_GLOBAL),
    ("stg_log_close", [log_p], None, None),
    ("stg_log_errmsg", [log_p], c_char_p, None),
    ("stg_log_set_transport", [log_p, P(stg_transport)], c_int, ERR_LOG),
    ("stg_log_set_policy", [log_p, c_char_p, policy_p], c_int, ERR_LOG),
    ("stg_log_set_limits", [log_p, c_char_p, c_uint32, c_uint32, c_int64], c_int, ERR_LOG),
    ("stg_log_set_limit_scope", [log_p, c_char_p, c_char_p], c_int, ERR_LOG),
    ("stg_log_limit_state", [log_p, c_char_p, P(stg_limit_state)], c_int, ERR_LOG),
    ("stg_submit_init", [P(stg_submit), c_uint], c_int, ERR_GLOBAL),
    ("stg_log_submit", [log_p, P(stg_submit), P(stg_submit_result)], c_int, ERR_LOG),
    ("stg_log_submit_batch", [log_p, P(stg_submit), c_size_t, P(stg_submit_result), _size_p],
     c_int, ERR_LOG),
    ("stg_log_pump", [log_p, c_size_t, _size_p], c_int, ERR_LOG),
    ("stg_log_complete", [log_p, c_uint64, P(stg_job_result)], c_int, ERR_LOG),
    ("stg_log_next_due", [log_p, _i64_p], c_int, ERR_LOG),
    ("stg_log_pause", [log_p, c_char_p], c_int, ERR_LOG),
    ("stg_log_resume", [log_p, c_char_p], c_int, ERR_LOG),
    ("stg_log_is_paused", [log_p, c_char_p, _int_p], c_int, ERR_LOG),
    ("stg_log_set_catalogued", [log_p, c_char_p, c_char_p], c_int, ERR_LOG),
    ("stg_message_rule_init", [P(stg_message_rule), c_uint], c_int, ERR_GLOBAL),
    ("stg_message_rules_default", [P(P(stg_message_rule)), _size_p], c_int, ERR_GLOBAL),
    ("stg_log_set_rules", [log_p, c_char_p, P(stg_message_rule), c_size_t, c_uint], c_int,
     ERR_LOG),
    ("stg_log_classify", [log_p, c_char_p, c_int, c_char_p, _int_p], c_int, ERR_LOG),
    ("stg_observation_init", [P(stg_observation), c_uint], c_int, ERR_GLOBAL),
    ("stg_log_observe", [log_p, P(stg_observation), _int_p], c_int, ERR_LOG),
    ("stg_entry_explain", [P(stg_entry), c_char_p, c_size_t, _size_p], c_int, None),
    ("stg_query_init", [P(stg_query), c_uint], c_int, ERR_GLOBAL),
    ("stg_log_get", [log_p, c_char_p, c_char_p, P(stg_entry)], c_int, ERR_LOG),
    ("stg_log_query", [log_p, P(stg_query), P(c_uint64), P(stg_entry), c_size_t, _size_p], c_int,
     ERR_LOG),
    ("stg_log_counts", [log_p, c_char_p, P(stg_counts)], c_int, ERR_LOG),
    ("stg_log_stats", [log_p, c_char_p, P(stg_stats)], c_int, ERR_LOG),
    ("stg_log_reprocess", [log_p, c_char_p, c_char_p], c_int, ERR_LOG),
    ("stg_log_reprocess_matching", [log_p, P(stg_query), _size_p], c_int, ERR_LOG),
    ("stg_log_remove", [log_p, c_char_p, c_char_p, c_uint], c_int, ERR_LOG),
    ("stg_log_remove_matching", [log_p, P(stg_query), c_uint, _size_p], c_int, ERR_LOG),
    ("stg_log_expire", [log_p, _size_p], c_int, ERR_LOG),
    ("stg_log_flush", [log_p, _size_p], c_int, ERR_LOG),
    ("stg_log_begin", [log_p], c_int, ERR_LOG),
    ("stg_log_commit", [log_p], c_int, ERR_LOG),
    ("stg_log_in_transaction", [log_p, _int_p], c_int, ERR_LOG),
]


#: Python names for the C functions that prefix the library's messages.
PY_NAMES = {"stg_log_open": "Log()", "stg_filter_decide": "decide()",
            "stg_filter_batch": "filter_batch()", "stg_entry_encode": "encode()",
            "stg_entry_decode": "decode()", "stg_policy_new": "Policy()"}


def _py_name(cname: str) -> Optional[str]:
    if cname in PY_NAMES:
        return PY_NAMES[cname]
    for prefix, fmt in (("stg_log_", "Log.%s()"), ("stg_policy_set_", "Policy.%s"),
                        ("stg_policy_", "Policy.%s()")):
        if cname.startswith(prefix):
            return fmt % cname[len(prefix):]
    return None


def python_message(msg: str) -> str:
    """The library's message with its C function name replaced by the Python one
    (``"stg_log_stats: ..."`` reads ``"Log.stats(): ..."``)."""
    head, sep, rest = msg.partition(": ")
    if sep and head.startswith("stg_"):
        name = _py_name(head)
        if name is not None:
            return name + ": " + rest
    return msg


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


class Library:
    """The bound C functions (one attribute per symbol) and where they came from."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.version_number = 0
        self.version_string = ""
        self._cdll: Any = None

    def __repr__(self) -> str:
        return "<stockguard library %s at %r>" % (self.version_string or "?", self.path)

    def fast(self, name: str, restype: Any = c_int) -> Any:
        """A second entry to ``name`` for the per-call hot paths.

        No argtypes: the caller passes ctypes objects made once (the handle
        from :func:`handle_ref`, ``byref()`` of reused structs), which ctypes
        hands over as they are, where argtypes would run a conversion per
        argument.  No errcheck: the caller tests the status and raises
        :meth:`fail`.  The GIL is kept across the call (``PYFUNCTYPE``, or
        :class:`_IntEntry` for an int result): releasing and taking it back
        costs more than these short calls.  Not for calls that may run long
        (batches).
        """
        if restype is c_int and _IntEntry is not None:
            return _IntEntry((name, self._cdll))
        return ctypes.PYFUNCTYPE(restype)((name, self._cdll))

    def message(self, code: int, marker: Optional[str], handle: Any = None) -> str:
        """The message of a failed call: the handle's, the thread's, or the code's text."""
        msg = ""
        if handle is not None:
            if marker == ERR_POLICY:
                msg = _text(self.stg_policy_errmsg(handle))
            elif marker == ERR_LOG:
                msg = _text(self.stg_log_errmsg(handle))
        if not msg:
            msg = _text(self.stg_last_error()) if self.stg_last_error_code() == code else ""
        return python_message(msg) if msg else _text(self.stg_strerror(code))

    def fail(self, code: int, marker: Optional[str],
             handle: Any = None) -> errors.StockguardError:
        """The exception (to raise) for a failed status."""
        return errors.from_status(code, self.message(code, marker, handle))


try:
    class _IntEntry(ctypes._CFuncPtr):  # type: ignore[name-defined,misc]
        """A function pointer type without any restype, which ctypes reads as
        a C int straight away: with ``restype = c_int`` it converts through
        the type's getter (and a table search) on every call.  Keeps the GIL,
        like ``PYFUNCTYPE``."""
        _flags_ = ctypes._FUNCFLAG_CDECL | ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]
except (AttributeError, TypeError):   # a ctypes without these internals
    _IntEntry = None  # type: ignore[assignment,misc]


def handle_ref(h: Any) -> Any:
    """A handle (``POINTER(stg_policy)``, ``POINTER(stg_log)``) as an argument
    for the :meth:`Library.fast` entries: ``byref`` of the object it points
    to, which ctypes passes as the pointer itself.  A ``c_void_p`` would do
    the same but costs ctypes a conversion object per call."""
    return ctypes.byref(h.contents)


def _make_errcheck(lib: Library, marker: str) -> Callable:
    """A ctypes errcheck turning a negative status into a StockguardError."""

    def errcheck(result: int, func: Any, args: tuple) -> int:
        if result < 0:
            raise lib.fail(result, marker, args[0] if args else None)
        return result

    errcheck.__name__ = "errcheck_" + marker
    return errcheck


def bind(cdll: Any, path: str) -> Library:
    """Register every prototype of :data:`PROTOTYPES` on ``cdll`` and check the version.

    ``cdll`` is a :class:`ctypes.CDLL` (or any object whose attributes are the
    library's functions).  Raises :class:`~stockguard.errors.MissingSymbol`
    or :class:`~stockguard.errors.VersionMismatch`.
    """
    lib = Library(path)
    lib._cdll = cdll
    checks = {m: _make_errcheck(lib, m) for m in (ERR_POLICY, ERR_LOG, ERR_GLOBAL)}
    for name, argtypes, restype, marker in PROTOTYPES:
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            raise errors.MissingSymbol(name, path) from None
        fn.argtypes = argtypes
        fn.restype = restype
        if marker is not None:
            fn.errcheck = checks[marker]
        setattr(lib, name, fn)
    number = int(lib.stg_version_number())
    text = _text(lib.stg_version_string())
    lib.version_number = number
    lib.version_string = text
    major, minor = number >> 16, (number >> 8) & 0xFF
    if major != ABI_MAJOR or minor < ABI_MINOR_MIN:
        raise errors.VersionMismatch(
            errors.Status.EVERSION,
            "%s is stockguard %s (0x%06x); this binding needs major version %d (>= %d.%d)"
            % (path, text or "?", number, ABI_MAJOR, ABI_MAJOR, ABI_MINOR_MIN))
    return lib


def candidates(environ: Optional[Mapping[str, str]] = None,
               package_dir: Optional[str] = None) -> List[Tuple[str, str]]:
    """The places :func:`load` tries, in order, as ``(origin, path-or-name)`` pairs.

    When ``STOCKGUARD_LIBRARY`` is set it is the only candidate.
    """
    env = os.environ if environ is None else environ
    forced = env.get(ENV_VAR)
    if forced:
        return [(ENV_VAR, forced)]
    here = package_dir if package_dir is not None else os.path.dirname(os.path.abspath(__file__))
    found: List[Tuple[str, str]] = []
    for name in LOCAL_NAMES:
        path = os.path.join(here, name)
        if os.path.exists(path):
            found.append(("package", path))
    found.append(("system", SONAME))
    util = ctypes.util.find_library("stockguard")
    if util and util != SONAME:
        found.append(("system", util))
    return found


def load(environ: Optional[Mapping[str, str]] = None, package_dir: Optional[str] = None,
         loader: Callable[[str], Any] = ctypes.CDLL) -> Library:
    """Find, open and bind libstockguard; see the module documentation for the order.

    Raises :class:`~stockguard.errors.LibraryNotFound` listing every place
    tried (with the loader's reason), or the errors of :func:`bind`.
    """
    tried = []
    for origin, where in candidates(environ, package_dir):
        try:
            cdll = loader(where)
        except OSError as exc:
            tried.append("%s (%s): %s" % (where, origin, exc))
            continue
        path = getattr(cdll, "_name", where) or where
        return bind(cdll, path)
    raise errors.LibraryNotFound(
        "libstockguard not found; set %s to its path. Tried: %s" % (ENV_VAR, "; ".join(tried)))


# ------------------------------------------------------------ the bound library
#
# The library is bound once per process.  With STOCKGUARD_LIBRARY set it is
# bound at import (a wrong path fails the import, as documented); otherwise
# at first use, so that set_library_path() can choose the file before that.

_chosen: Optional[str] = None   # set_library_path()
_bound: Optional[Library] = None


def set_library_path(path: str) -> None:
    """Use the shared library at ``path``; call it before the first use.

    Modelled on libclang's ``Config.set_library_path()``.  Once a library is
    bound (at import when ``STOCKGUARD_LIBRARY`` is set, else at the first
    call that needs it), choosing another one raises
    :class:`~stockguard.errors.LibraryError`; choosing the same path again is
    a no-op.
    """
    global _chosen
    if not isinstance(path, str) or not path:
        raise TypeError("path must be a non-empty str, not %r" % (path,))
    if _bound is not None:
        if os.path.realpath(path) == os.path.realpath(_bound.path):
            return
        raise errors.LibraryError(
            "stockguard is already bound to %s; set_library_path(%r) must come before the "
            "first use (and STOCKGUARD_LIBRARY, when set, binds at import)" % (_bound.path, path))
    _chosen = path


def bound() -> Library:
    """The bound library, binding it now if needed (see :func:`set_library_path`)."""
    global _bound
    if _bound is None:
        if _chosen is not None:
            _bound = load({ENV_VAR: _chosen})
        else:
            _bound = load()
        globals()["lib"] = _bound
    return _bound


def __getattr__(name: str) -> Any:
    # PEP 562: ``_native.lib`` binds the library at its first use.
    if name == "lib":
        return bound()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


if os.environ.get(ENV_VAR):
    bound()
