"""Status codes, the exception hierarchy and the library's messages."""
from __future__ import annotations

import pickle

import pytest

import stockguard as sg
from stockguard import _native as N, errors


EXPECTED = {
    -1: (sg.InvalidArgument, ValueError), -2: (sg.OutOfMemory, MemoryError),
    -3: (sg.OutOfRange, ValueError), -4: (sg.NotFound, LookupError),
    -5: (sg.VersionMismatch, sg.StockguardError), -6: (sg.StorageError, sg.StockguardError),
    -7: (sg.TransportError, sg.StockguardError), -8: (sg.Busy, sg.StockguardError),
    -9: (sg.Recursive, sg.StockguardError), -10: (sg.Corrupt, ValueError),
    -11: (sg.Truncated, sg.Corrupt), -12: (sg.StateError, sg.StockguardError),
    -13: (sg.AlreadyExists, sg.StockguardError), -14: (sg.CallbackError, sg.StockguardError),
    -15: (sg.Overflow, OverflowError), -16: (sg.LimitExceeded, sg.StockguardError),
}


def test_every_status_has_a_class():
    assert {int(s) for s in sg.Status if s != 0} == set(EXPECTED)
    for code, (cls, base) in EXPECTED.items():
        exc = errors.from_status(code, "msg")
        assert type(exc) is cls and isinstance(exc, base) and isinstance(exc, sg.StockguardError)
        assert exc.code == code and exc.status == sg.Status(code) and exc.message == "msg"
        assert str(exc) == "msg [%s]" % sg.Status(code).name


def test_unknown_code_gives_the_base_class():
    exc = errors.from_status(-999, "")
    assert type(exc) is sg.StockguardError and exc.status is None and str(exc) == "-999"


def test_strerror_and_labels():
    assert sg.strerror(0)
    assert sg.strerror(-999) == "unknown error"
    for s in sg.Status:
        assert sg.strerror(s) == s.label and s.label != "unknown error"
    with pytest.raises(sg.OutOfRange):
        sg.strerror(1 << 40)


def test_exceptions_pickle():
    exc = errors.from_status(-4, "no such entry")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is sg.NotFound and back.code == -4 and back.message == "no such entry"
    miss = sg.MissingSymbol("stg_x", "/p")
    back = pickle.loads(pickle.dumps(miss))
    assert back.symbol == "stg_x" and back.path == "/p"
    nf = sg.LibraryNotFound("gone")
    assert pickle.loads(pickle.dumps(nf)).message == "gone"


def test_last_error_is_the_thread_message():
    with pytest.raises(sg.OutOfRange) as info:
        sg.Policy(allocation=0)
    assert sg.last_error_code() == sg.Status.ERANGE
    assert sg.last_error() == info.value.message != ""


def test_constructor_error_uses_last_error():
    # a decode failure has no handle: its message comes from stg_last_error()
    with pytest.raises(sg.Truncated) as info:
        sg.decode(b"SG")
    assert info.value.message == sg.last_error() != ""


def test_enum_labels_are_the_library_names():
    assert sg.Reason.LOW_STOCK.label == "low_stock"
    assert sg.Decision.EXPORT.label == "export"
    assert sg.Rule.CUTOFF.label == "cutoff"
    assert sg.MinSource.SKU.label == "sku"
    assert sg.EntryStatus.PENDING.label == "pending"
    assert sg.JobState.IN_FLIGHT.label == "in_flight"
    assert sg.ErrorClass.NOT_CATALOGUED.label == "not_catalogued"
    for cls in (sg.Reason, sg.Decision, sg.Rule, sg.MinSource, sg.EntryStatus, sg.JobState,
                sg.ErrorClass):
        for v in cls:
            assert v.label == v.name.lower()


def test_enum_values_match_the_headers():
    import os
    import re
    from conftest import ROOT
    src = ""
    for name in ("policy.h", "filter.h", "entry.h", "hooks.h", "log.h", "common.h"):
        src += open(os.path.join(ROOT, "include", "stockguard", name)).read()
    consts = {m.group(1): int(m.group(2), 0) for m in
              re.finditer(r"\b(STG_[A-Z0-9_]+)\s*=\s*(-?(?:0x)?[0-9a-fA-F]+)", src)}
    consts.update({m.group(1): int(m.group(2), 0) for m in
                   re.finditer(r"#define\s+(STG_[A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+)u?\b", src)})
    table = [(sg.Status, "STG_"), (sg.Mode, "STG_MODE_"), (sg.MinSource, "STG_MIN_"),
             (sg.Rule, "STG_RULE_"), (sg.Decision, "STG_DECISION_"), (sg.Reason, "STG_REASON_"),
             (sg.EntryStatus, "STG_ENTRY_"), (sg.JobState, "STG_JOB_"),
             (sg.ErrorClass, "STG_ERRCLASS_"), (sg.Priority, "STG_PRIORITY_"),
             (sg.Outcome, "STG_OUTCOME_"), (sg.EventType, "STG_EVENT_"),
             (sg.ChangeFlag, "STG_CHANGE_"), (sg.EntryFlag, "STG_ENTRY_"),
             (sg.JobFlag, "STG_JOB_FLAG_"), (sg.QueryFlag, "STG_QUERY_"),
             (sg.RemoveFlag, "STG_REMOVE_"), (sg.WarningFlag, "STG_WARN_")]
    checked = 0
    for cls, prefix in table:
        for member in cls:
            cname = prefix + member.name
            assert cname in consts, cname
            assert consts[cname] == int(member), cname
            checked += 1
    assert checked == 83  # 1.1: Reason.OUT_OF_SYNC, ErrorClass.CONFLICT, EventType.OUT_OF_SYNC
    assert consts["STG_KEY_MAX"] == sg.KEY_MAX and consts["STG_MESSAGE_MAX"] == sg.MESSAGE_MAX
    assert consts["STG_EXPLAIN_MAX"] == N.EXPLAIN_MAX
    m = re.search(r"#define STG_ENTRY_ENCODED_MAX \((\d+) \+ 2 \* \(STG_KEY_MAX \+ 1\) \+ "
                  r"\(STG_MESSAGE_MAX \+ 1\)\)", src)
    assert m, "STG_ENTRY_ENCODED_MAX changed shape"
    assert int(m.group(1)) + 2 * (sg.KEY_MAX + 1) + sg.MESSAGE_MAX + 1 == sg.ENTRY_ENCODED_MAX
    assert consts["STG_REASON_COUNT"] == len(sg.Reason)
    assert consts["STG_ERRCLASS_COUNT"] == len(sg.ErrorClass)
