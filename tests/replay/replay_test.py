#!/usr/bin/env python3
"""Tests of the stockguard-replay tool (SPEC section 7), run by meson.

    replay_test.py --list
    replay_test.py --bin PATH --source-root DIR CASE

Each case is a function below whose name starts with ``case_``; meson asks
for the list at configure time and runs one test per case. Expected outputs
of small feeds are written out by hand in the cases, not produced by the
tool. Exit status: 0 pass, 1 fail, 77 skipped.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HEADER_OUT = ("time,integration,sku,from,to,published_from,published_to,"
              "decision,reason,warning")
HEADER_IN = "time,integration,sku,available,fields"
DEMO_OPTS = ["--min-stock", "3", "--min-stock", "amazon=10"]

BIN = None
ROOT = None
WRAP = []  # a command in front of the tool (valgrind)


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def run(args, stdin=None):
    """Run the tool; stdin is bytes or None. Returns (rc, stdout, stderr) as text."""
    p = subprocess.run(WRAP + [BIN] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def path(*parts):
    return os.path.join(ROOT, *parts)


def read(*parts):
    with open(path(*parts), "rb") as f:
        return f.read()


def expect(cond, what):
    if not cond:
        raise Fail(what)


def expect_eq(got, want, what):
    if got != want:
        gl, wl = got.splitlines(), want.splitlines()
        for i in range(max(len(gl), len(wl))):
            g = gl[i] if i < len(gl) else "<missing>"
            w = wl[i] if i < len(wl) else "<missing>"
            if g != w:
                raise Fail("%s: first difference at line %d:\n  got:  %r\n  want: %r"
                           % (what, i + 1, g, w))
        raise Fail("%s: differ (line endings?)\n got: %r\nwant: %r" % (what, got, want))


def feed(*rows, header=HEADER_IN, eol="\n"):
    return (eol.join([header] + list(rows)) + eol).encode()


def run_feed(data, opts=()):
    """Run a feed given as bytes through stdin."""
    return run(list(opts) + ["-"], stdin=data)


def expect_ok(data, opts, want_rows):
    rc, out, err = run_feed(data, opts)
    expect(rc == 0, "exit status %d, stderr:\n%s" % (rc, err))
    expect_eq(out, "\n".join([HEADER_OUT] + list(want_rows)) + "\n", "stdout")
    return err


def expect_bad(args, stdin=None, where=None, contains=None, stdout_rows=None):
    """Exit 2, one message on stderr starting 'stockguard-replay: '."""
    rc, out, err = run(args, stdin)
    expect(rc == 2, "exit status %d (want 2); stderr:\n%s" % (rc, err))
    expect(err.startswith("stockguard-replay: "), "message prefix: %r" % err)
    if where is not None:
        expect(err.startswith("stockguard-replay: " + where),
               "message %r does not start with %r" % (err, "stockguard-replay: " + where))
    if contains is not None:
        expect(contains in err, "message %r lacks %r" % (err, contains))
    expect("summary" not in err, "a summary after an error: %r" % err)
    if stdout_rows is not None:
        expect_eq(out, "".join(r + "\n" for r in stdout_rows), "stdout before the error")
    return err


def bad_row(row, where, contains=None, opts=()):
    """A feed whose second line is @row fails at @where."""
    return expect_bad(list(opts) + ["-"], stdin=feed(row), where=where, contains=contains,
                      stdout_rows=[HEADER_OUT])


# --- the sample feed and the golden files --------------------------------

def golden_stdout():
    return read("tests", "replay", "sample.golden.csv").decode()


def golden_stderr():
    return read("tests", "replay", "sample.golden.summary").decode()


def sample():
    return read("examples", "sample-feed.csv")


def case_golden_stdout():
    rc, out, err = run(DEMO_OPTS + [path("examples", "sample-feed.csv")])
    expect(rc == 0, "exit status %d, stderr:\n%s" % (rc, err))
    expect_eq(out, golden_stdout(), "stdout vs sample.golden.csv")


def case_golden_summary():
    rc, out, err = run(DEMO_OPTS + [path("examples", "sample-feed.csv")])
    expect(rc == 0, "exit status %d" % rc)
    expect_eq(err, golden_stderr(), "stderr vs sample.golden.summary")


def case_golden_covers_everything():
    """The sample shows every reason, both decisions, the warning, both time forms."""
    out = golden_stdout().splitlines()
    expect(out[0] == HEADER_OUT, "header")
    rows = [l.split(",") for l in out[1:]]
    expect(all(len(r) == 10 for r in rows), "10 columns everywhere")
    reasons = {r[8] for r in rows}
    want = {"first_seen", "non_stock_change", "no_change", "low_stock", "outside_window"}
    expect(reasons == want, "reasons %s" % sorted(reasons))
    expect({r[7] for r in rows} == {"export", "skip"}, "decisions")
    expect(any(r[9] == "min_stock_reached" and r[7] == "export" for r in rows), "warning, export")
    expect(any(r[9] == "min_stock_reached" and r[7] == "skip" for r in rows), "warning, skip")
    # the seed's example: minimum 10, 12 -> 9 publishes 12 -> 0, exported with the warning
    expect(any(r[1] == "amazon" and r[3:] == ["12", "9", "12", "0", "export", "low_stock",
                                               "min_stock_reached"] for r in rows), "seed example")
    # the per-integration minimum: the same change on mercadolivre (minimum 3) is skipped
    expect(any(r[1] == "mercadolivre" and r[3:7] == ["12", "9", "12", "9"] for r in rows),
           "per-integration minimum")
    expect(any(re.fullmatch(r"\d+", r[0]) for r in rows), "integer time")
    expect(any(r[0].endswith("Z") for r in rows), "ISO time")
    n_in = len(sample().decode().splitlines()) - 1
    expect(len(rows) == n_in, "one output row per input row")


def case_stdin_dash():
    rc, out, err = run(DEMO_OPTS + ["-"], stdin=sample())
    expect(rc == 0, "exit status %d" % rc)
    expect_eq(out, golden_stdout(), "stdout from stdin")
    expect_eq(err, golden_stderr(), "summary from stdin")


def case_crlf():
    data = sample().replace(b"\n", b"\r\n")
    rc, out, err = run_feed(data, DEMO_OPTS)
    expect(rc == 0, "exit status %d: %s" % (rc, err))
    expect_eq(out, golden_stdout(), "stdout of the CRLF feed")


def case_trailing_empty_lines():
    for tail in (b"\n", b"\r\n", b"\n\n\n"):
        rc, out, err = run_feed(sample() + tail, DEMO_OPTS)
        expect(rc == 0, "tail %r: exit status %d: %s" % (tail, rc, err))
        expect_eq(out, golden_stdout(), "stdout with tail %r" % tail)


def case_no_final_newline():
    rc, out, err = run_feed(sample().rstrip(b"\n"), DEMO_OPTS)
    expect(rc == 0, "exit status %d" % rc)
    expect_eq(out, golden_stdout(), "stdout")


def case_utf8_bom():
    rc, out, err = run_feed(b"\xef\xbb\xbf" + sample(), DEMO_OPTS)
    expect(rc == 0, "exit status %d: %s" % (rc, err))
    expect_eq(out, golden_stdout(), "stdout")


def case_option_forms():
    """Order of options, --opt=value, options after the file, last value wins."""
    f = path("examples", "sample-feed.csv")
    for args in (["--min-stock", "amazon=10", "--min-stock", "3", f],
                 ["--min-stock=amazon=10", "--min-stock=3", f],
                 [f, "--min-stock", "3", "--min-stock", "amazon=10"],
                 ["--min-stock", "amazon=1", "--min-stock", "7", "--min-stock", "amazon=10",
                  "--min-stock", "3", "--window", "5", "--mode", "cutoff", "--cap", "0", f],
                 DEMO_OPTS + ["--", f]):
        rc, out, err = run(args)
        expect(rc == 0, "%s: exit status %d: %s" % (args, rc, err))
        expect_eq(out, golden_stdout(), "stdout of %s" % args)


def case_default_options():
    """No options: minimum 0, window 5, cutoff, no cap."""
    expect_ok(feed("1,a,S,12,", "2,a,S,9,", "3,a,S,5,", "4,a,S,0,", "5,a,S,3,", "6,a,S,-1,",
                   "7,a,S,8,"), [],
              ["1,a,S,,12,,12,export,first_seen,",
               "2,a,S,12,9,12,9,skip,outside_window,",
               "3,a,S,9,5,9,5,export,low_stock,",
               "4,a,S,5,0,5,0,export,low_stock,",
               "5,a,S,0,3,0,3,export,low_stock,",
               "6,a,S,3,-1,3,0,export,low_stock,",
               "7,a,S,-1,8,0,8,export,low_stock,"])


def case_reserve_mode():
    expect_ok(feed("100,amazon,A,30,", "200,amazon,A,25,", "300,amazon,A,14,",
                   "400,amazon,A,10,", "500,amazon,A,-3,", "600,amazon,B,8,"),
              ["--mode", "reserve", "--min-stock", "10"],
              ["100,amazon,A,,30,,20,export,first_seen,",
               "200,amazon,A,30,25,20,15,skip,outside_window,",
               "300,amazon,A,25,14,15,4,export,low_stock,",
               "400,amazon,A,14,10,4,0,export,low_stock,min_stock_reached",
               "500,amazon,A,10,-3,0,0,skip,no_change,",
               "600,amazon,B,,8,,0,export,first_seen,min_stock_reached"])


def case_cap():
    expect_ok(feed("100,carrefour,C,80,", "200,carrefour,C,70,", "300,carrefour,C,40,",
                   "400,carrefour,C,4,", "500,carrefour,C,2,", "600,carrefour,C,120,price"),
              ["--cap", "50", "--min-stock", "2"],
              ["100,carrefour,C,,80,,50,export,first_seen,",
               "200,carrefour,C,80,70,50,50,skip,no_change,",
               "300,carrefour,C,70,40,50,40,skip,outside_window,",
               "400,carrefour,C,40,4,40,4,export,low_stock,",
               "500,carrefour,C,4,2,4,0,export,low_stock,min_stock_reached",
               "600,carrefour,C,2,120,0,50,export,non_stock_change,"])


def case_reserve_with_cap_and_window():
    err = expect_ok(feed("1,x,S,100,", "2,x,S,14,", "3,x,S,8,", "4,x,S,5,"),
                    ["--mode", "reserve", "--min-stock", "5", "--cap", "10", "--window", "3"],
                    ["1,x,S,,100,,10,export,first_seen,",
                     "2,x,S,100,14,10,9,skip,outside_window,",
                     "3,x,S,14,8,9,3,export,low_stock,",
                     "4,x,S,8,5,3,0,export,low_stock,min_stock_reached"])
    expect("mode reserve, window 3, cap 10" in err, "settings in the summary: %r" % err)


def case_window_zero():
    expect_ok(feed("1,a,S,5,", "2,a,S,3,", "3,a,S,0,"), ["--window", "0"],
              ["1,a,S,,5,,5,export,first_seen,",
               "2,a,S,5,3,5,3,skip,outside_window,",
               "3,a,S,3,0,3,0,export,low_stock,"])


def case_per_integration_minimum():
    """Each integration has its own policy and state; same SKU, different answers."""
    err = expect_ok(feed("1,amazon,S,12,", "1,magalu,S,12,", "2,amazon,S,9,", "2,magalu,S,9,",
                         "3,netshoes,S,9,"),
                    ["--min-stock", "amazon=10", "--min-stock", "netshoes=9",
                     "--min-stock", "amazn=4"],
                    ["1,amazon,S,,12,,12,export,first_seen,",
                     "1,magalu,S,,12,,12,export,first_seen,",
                     "2,amazon,S,12,9,12,0,export,low_stock,min_stock_reached",
                     "2,magalu,S,12,9,12,9,skip,outside_window,",
                     "3,netshoes,S,,9,,0,export,first_seen,min_stock_reached"])
    expect("0 (default), amazon 10, netshoes 9, amazn 4 (not in the feed)" in err,
           "minimums in the summary: %r" % err)


def case_fields_column():
    expect_ok(feed("1,a,S,20,", "2,a,S,19,stock", "3,a,S,18,stock|stock", "4,a,S,17,price",
                   "5,a,S,16,stock|price", "6,a,S,16,catalog|images", "7,a,S,15,Stock",
                   "8,a,S,14,"),
              [],
              ["1,a,S,,20,,20,export,first_seen,",
               "2,a,S,20,19,20,19,skip,outside_window,",
               "3,a,S,19,18,19,18,skip,outside_window,",
               "4,a,S,18,17,18,17,export,non_stock_change,",
               "5,a,S,17,16,17,16,export,non_stock_change,",
               "6,a,S,16,16,16,16,export,non_stock_change,",
               "7,a,S,16,15,16,15,export,non_stock_change,",
               "8,a,S,15,14,15,14,skip,outside_window,"])


def case_integer_forms():
    """Signs and leading zeros are accepted; 'from' and 'to' print the number."""
    expect_ok(feed("1,a,S,+7,", "2,a,S,007,", "3,a,S,-0,", "4,a,S,9223372036854775807,",
                   "5,a,S,-9223372036854775808,", "0006,a,T,1,"),
              [],
              ["1,a,S,,7,,7,export,first_seen,",
               "2,a,S,7,7,7,7,skip,no_change,",
               "3,a,S,7,0,7,0,export,low_stock,",
               "4,a,S,0,9223372036854775807,0,9223372036854775807,export,low_stock,",
               "5,a,S,9223372036854775807,-9223372036854775808,9223372036854775807,0,"
               "export,low_stock,",
               "0006,a,T,,1,,1,export,first_seen,"])


def case_extreme_reserve():
    expect_ok(feed("1,a,S,9223372036854775807,", "2,a,S,-9223372036854775808,"),
              ["--mode", "reserve", "--min-stock", "4611686018427387903"],
              ["1,a,S,,9223372036854775807,,4611686018427387904,export,first_seen,",
               "2,a,S,9223372036854775807,-9223372036854775808,4611686018427387904,0,"
               "export,low_stock,"])


def case_times():
    """ISO dates are validated (leap years); both forms print as given; equal times are fine."""
    expect_ok(feed("2024-02-29T00:00:00Z,a,S,1,", "2024-02-29T00:00:00Z,a,S,2,",
                   "2000-02-29T12:30:59Z,a,T,1,", "1970-01-01T00:00:00Z,a,U,1,",
                   "0,a,V,1,", "9999-12-31T23:59:59Z,a,W,1,", "9223372036854775807,a,X,1,"),
              [],
              ["2024-02-29T00:00:00Z,a,S,,1,,1,export,first_seen,",
               "2024-02-29T00:00:00Z,a,S,1,2,1,2,export,low_stock,",
               "2000-02-29T12:30:59Z,a,T,,1,,1,export,first_seen,",
               "1970-01-01T00:00:00Z,a,U,,1,,1,export,first_seen,",
               "0,a,V,,1,,1,export,first_seen,",
               "9999-12-31T23:59:59Z,a,W,,1,,1,export,first_seen,",
               "9223372036854775807,a,X,,1,,1,export,first_seen,"])


def case_time_order_mixed_forms():
    """Integer and ISO times compare as the same instant; other SKUs may go back."""
    expect_ok(feed("2026-01-31T08:00:00Z,a,S,10,", "1769846400,a,S,9,", "1769846399,a,T,8,",
                   "2026-01-31T08:00:01Z,a,S,8,"), [],
              ["2026-01-31T08:00:00Z,a,S,,10,,10,export,first_seen,",
               "1769846400,a,S,10,9,10,9,skip,outside_window,",
               "1769846399,a,T,,8,,8,export,first_seen,",
               "2026-01-31T08:00:01Z,a,S,9,8,9,8,skip,outside_window,"])
    bad_row_at(["2026-01-31T08:00:00Z,a,S,10,", "1769846399,a,S,9,"], 3,
               "line 3, column 1 (time): '1769846399' is earlier than")


def bad_row_at(rows, line, where):
    """A feed of @rows fails at input @line (1 = header); earlier rows are printed."""
    rc, out, err = run_feed(feed(*rows), [])
    expect(rc == 2, "exit status %d (want 2): %s" % (rc, err))
    expect(err.startswith("stockguard-replay: " + where), "message %r, want %r" % (err, where))
    got = out.splitlines()
    expect(len(got) == line - 1 and out.endswith("\n"),
           "stdout has %d lines, want the header and the %d rows before the bad one: %r"
           % (len(got), line - 2, out))


def case_log_summary():
    """Rows go through the integration log: equal times are applied, each export is
    acknowledged before the next row (never coalesced), and the log counts it all."""
    err = expect_ok(feed("1,a,S,10,", "1,a,S,4,", "2,a,S,4,", "3,a,S,20,", "4,a,S,30,",
                         "2,b,T,1,price"), [],
                    ["1,a,S,,10,,10,export,first_seen,",
                     "1,a,S,10,4,10,4,export,low_stock,",
                     "2,a,S,4,4,4,4,skip,no_change,",
                     "3,a,S,4,20,4,20,export,low_stock,",
                     "4,a,S,20,30,20,30,skip,outside_window,",
                     "2,b,T,,1,,1,export,first_seen,"])
    want = "\n".join([
        "  integration log     in memory; the simulated marketplace accepts everything",
        "    changes           6",
        "    exports           4",
        "    attempts          4",
        "    successes         4",
        "    skips             2",
        "      no_change       1",
        "      outside_window  1",
        "    API calls saved   2  33.3% of 6 changes",
        "    entries           2  success 2, pending 0, error 0",
        "    latency           p50 0 ms, p99 0 ms, max 0 ms; abnormal 0 (later than one hour)"]) + "\n"
    expect(err.endswith(want), "log part of the summary:\n%s" % err)
    expect("(2 integrations, 2 integration/SKU pairs)" in err, "pairs: %r" % err)


def case_header_only():
    rc, out, err = run_feed(feed(), [])
    expect(rc == 0, "exit status %d" % rc)
    expect_eq(out, HEADER_OUT + "\n", "stdout")
    expect(re.search(r"rows +0 ", err) and "API calls saved" in err, "summary: %r" % err)


def case_long_lines():
    """Lines far longer than any buffer; a SKU of exactly 1024 bytes is accepted."""
    fields = "|".join("field%d" % i for i in range(200000))  # ~1.4 MB
    sku = "S" * 1024
    integ = "i" * 1024
    rc, out, err = run_feed(feed("1,a,X,1,", "2,a,X,2," + fields, "3,%s,%s,3," % (integ, sku)),
                            [])
    expect(rc == 0, "exit status %d: %s" % (rc, err[:300]))
    expect_eq(out, "\n".join([HEADER_OUT, "1,a,X,,1,,1,export,first_seen,",
                              "2,a,X,1,2,1,2,export,non_stock_change,",
                              "3,%s,%s,,3,,3,export,first_seen," % (integ, sku)]) + "\n",
              "stdout")


def case_help_and_version():
    rc, out, err = run(["--help"])
    expect(rc == 0 and out.startswith("Usage: stockguard-replay") and err == "",
           "--help: %d %r %r" % (rc, out[:80], err))
    for opt in ("--min-stock", "--window", "--mode", "--cap", "--version", HEADER_IN, HEADER_OUT):
        expect(opt in out, "--help lacks %s" % opt)
    with open(path("include", "stockguard", "version.h")) as f:
        m = re.search(r'#define STG_VERSION_STRING "([^"]+)"', f.read())
    rc, out, err = run(["--version"])
    expect(rc == 0 and out == "stockguard-replay %s\n" % m.group(1) and err == "",
           "--version: %d %r %r" % (rc, out, err))


# --- bad input: exit 2, the line and the column ---------------------------

def case_bad_header():
    for header, where in (
            ("time,integ,sku,available,fields", "line 1, column 2: header column is 'integ', "
                                                "expected 'integration'"),
            ("Time,integration,sku,available,fields", "line 1, column 1:"),
            ("time,integration,sku,available", "line 1, column 5: header column 'fields' "
                                               "is missing"),
            ("time,integration,sku,available,fields,notes", "line 1, column 6: unexpected "
                                                            "header column 'notes'"),
            ("time;integration;sku;available;fields", "line 1, column 1:"),
            ("", "line 1: empty header line"),
            ("1769846400,amazon,SKU,5,", "line 1, column 1: header column is '1769846400'")):
        expect_bad(["-"], stdin=(header + "\n1,a,b,1,\n").encode(), where=where, stdout_rows=[])


def case_empty_input():
    expect_bad(["-"], stdin=b"", where="line 1: the input is empty", stdout_rows=[])


def case_missing_column():
    bad_row("1,amazon,SKU-1,5", "line 2, column 5 (fields): missing (the row has 4 columns")
    bad_row("1,amazon,SKU-1", "line 2, column 4 (available): missing")
    bad_row("1", "line 2, column 2 (integration): missing")
    bad_row("   ", "line 2, column 2 (integration): missing")


def case_extra_column():
    bad_row("1,amazon,SKU-1,5,,x", "line 2, column 6: 'x' is an extra column (the row has 6")
    bad_row("1,amazon,SKU-1,5,stock,", "line 2, column 6: '' is an extra column")


def case_comma_in_sku():
    # an unquoted comma shifts the columns: caught as an extra column ...
    bad_row("1,amazon,SKU,1,5,", "line 2, column 6:", "integration and sku may not contain commas")
    # ... or as a bad value when the count still matches
    bad_row("1,amazon,SKU,X,5", "line 2, column 4 (available): 'X' is not an integer")
    # quoting a comma is not supported and says so
    bad_row('1,amazon,"SKU,X",5,', "line 2, column 3 (sku): '\"SKU' contains a double quote")
    bad_row('1,"amazon",SKU,5,', "line 2, column 2 (integration):", "double quote")


def case_empty_text():
    bad_row("1,amazon,,5,", "line 2, column 3 (sku): is empty")
    bad_row("1,,SKU,5,", "line 2, column 2 (integration): is empty")


def case_bad_text():
    bad_row("1,amazon, SKU,5,", "line 2, column 3 (sku): ' SKU' has leading or trailing spaces")
    bad_row("1,amazon ,SKU,5,", "line 2, column 2 (integration):", "leading or trailing spaces")
    bad_row("1,amazon,S\tKU,5,", "line 2, column 3 (sku): 'S\\x09KU' contains a control")
    bad_row("1,amazon,SKU\r,5,", "line 2, column 3 (sku):", "control")
    bad_row("1,amazon,%s,5," % ("S" * 1025), "line 2, column 3 (sku): 'SSSS",
            "is too long (1025 bytes, at most 1024)")
    bad_row("1,%s,SKU,5," % ("i" * 1025), "line 2, column 2 (integration):", "too long")


def case_nul_byte():
    expect_bad(["-"], stdin=feed("1,amazon,SK\0U,5,"), where="line 2, column 3 (sku): contains "
               "a NUL byte", stdout_rows=[HEADER_OUT])


def case_non_integer_available():
    bad_row("1,amazon,SKU,abc,", "line 2, column 4 (available): 'abc' is not an integer")
    for v in ("12abc", " 12", "12 ", "1.5", "1e3", "0x10", "-", "+", "--1", "١٢"):
        bad_row("1,amazon,SKU,%s," % v, "line 2, column 4 (available): '", "is not an integer")
    bad_row("1,amazon,SKU,,", "line 2, column 4 (available): is empty")


def case_overflow():
    for v in ("9223372036854775808", "-9223372036854775809", "99999999999999999999999"):
        bad_row("1,amazon,SKU,%s," % v, "line 2, column 4 (available): '%s' is out of range" % v)
    # junk wins over size: the message says what is wrong first
    bad_row("1,amazon,SKU,99999999999999999999x,", "line 2, column 4 (available):",
            "is not an integer")


def case_bad_time():
    for t, what in (("yesterday", "is not a time"),
                    ("", "is not a time"),
                    ("-5", "is not a time"),
                    ("1.5", "is not a time"),
                    ("2026-01-31 23:59:00Z", "is not a time"),
                    ("2026-01-31T23:59:00", "is not a time"),
                    ("2026-01-31T23:59:00+00:00", "is not a time"),
                    ("2026-01-31T23:59:00.000Z", "is not a time"),
                    ("2026-1-31T23:59:00Z", "is not a time"),
                    ("2026-01-31t23:59:00z", "is not a time"),
                    ("2026-0a-31T23:59:00Z", "with digits"),
                    ("9223372036854775808", "is too large"),
                    ("1969-12-31T23:59:59Z", "is before 1970"),
                    ("2026-00-10T00:00:00Z", "has month 00 (expected 01 to 12)"),
                    ("2026-13-01T00:00:00Z", "has month 13"),
                    ("2026-01-00T00:00:00Z", "has day 00 (expected 01 to 31)"),
                    ("2026-01-32T00:00:00Z", "has day 32, but January 2026 has 31 days"),
                    ("2026-04-31T00:00:00Z", "April 2026 has 30 days"),
                    ("2026-01-31T24:00:00Z", "has hour 24 (expected 00 to 23)"),
                    ("2026-01-31T23:60:00Z", "has minute 60"),
                    ("2026-01-31T23:59:60Z", "has second 60 (expected 00 to 59)")):
        bad_row("%s,amazon,SKU,5," % t, "line 2, column 1 (time): '%s' " % t, what)


def case_bad_iso_dates():
    bad_row("2026-02-30T00:00:00Z,amazon,SKU,5,",
            "line 2, column 1 (time): '2026-02-30T00:00:00Z' has day 30, but February 2026 "
            "has 28 days")
    bad_row("2026-02-29T00:00:00Z,amazon,SKU,5,", "line 2, column 1 (time):",
            "February 2026 has 28 days")
    bad_row("2100-02-29T00:00:00Z,amazon,SKU,5,", "line 2, column 1 (time):",
            "February 2100 has 28 days")


def case_time_going_back():
    bad_row_at(["2026-01-31T10:00:00Z,amazon,SKU,5,", "2026-01-31T09:59:59Z,amazon,SKU,4,"], 3,
               "line 3, column 1 (time): '2026-01-31T09:59:59Z' is earlier than the previous "
               "row of this integration and sku")


def case_bad_fields():
    for f in ("price||stock", "|", "stock|", " price", "price |stock", "pri\x01ce"):
        bad_row("1,amazon,SKU,5,%s" % f, "line 2, column 5 (fields):", "has an entry that")
    bad_row('1,amazon,SKU,5,price|"x"', "line 2, column 5 (fields): 'price|\"x\"' contains a "
            "double quote")


def case_error_after_good_rows():
    """Lines of earlier rows stay printed; nothing of the bad row is."""
    bad_row_at(["1,a,S,5,", "2,a,S,4,", "3,a,S,x,", "4,a,S,3,"], 4,
               "line 4, column 4 (available): 'x' is not an integer")


def case_empty_line_in_middle():
    bad_row_at(["1,a,S,5,", "", "3,a,S,x,"], 3,
               "line 3: empty line (empty lines are allowed only at the end")
    bad_row_at(["", "1,a,S,5,"], 2, "line 2: empty line")
    rc, out, err = run_feed(feed("1,a,S,5,", "\r", "2,a,S,6,"), [])
    expect(rc == 2 and "line 3: empty line" in err, "CRLF empty line: %d %r" % (rc, err))


def case_line_numbers_count_crlf():
    rc, out, err = run_feed(feed("1,a,S,5,", "2,a,S,4,", "3,a,,3,", eol="\r\n"), [])
    expect(rc == 2 and err.startswith("stockguard-replay: line 4, column 3 (sku): is empty"),
           "%d %r" % (rc, err))


def case_unknown_option():
    expect_bad(["--foo", "-"], b"", "unknown option '--foo'", stdout_rows=[])
    expect_bad(["-x", "-"], b"", "unknown option '-x'")
    expect_bad(["--min-stocks=3", "-"], b"", "unknown option '--min-stocks=3'")
    err = expect_bad(["--window"], None, "--window needs a value")
    expect("Try 'stockguard-replay --help'" in err, "hint: %r" % err)


def case_bad_min_stock():
    expect_bad(["--min-stock", "abc", "-"], b"", "--min-stock: 'abc' is not an integer",
               stdout_rows=[])
    expect_bad(["--min-stock", "-1", "-"], b"", "--min-stock: '-1' is negative")
    expect_bad(["--min-stock", "amazon=x", "-"], b"", "--min-stock: 'x' is not an integer")
    expect_bad(["--min-stock", "amazon=", "-"], b"", "--min-stock: '' is not an integer")
    expect_bad(["--min-stock", "amazon=-2", "-"], b"", "--min-stock: '-2' is negative")
    expect_bad(["--min-stock", "=5", "-"], b"", "--min-stock: the integration name is empty")
    expect_bad(["--min-stock", "a,b=5", "-"], b"", "--min-stock: the integration name contains "
               "a comma")
    expect_bad(["--min-stock", "4611686018427387904", "-"], b"",
               "--min-stock: must be at most 4611686018427387903")
    expect_bad(["--min-stock", "99999999999999999999", "-"], b"", "--min-stock: must be at most")
    expect_bad(["--min-stock"], None, "--min-stock needs a value")


def case_negative_window():
    expect_bad(["--window", "-1", "-"], b"", "--window: '-1' is negative (must be 0 or more)",
               stdout_rows=[])
    expect_bad(["--window=-5", "-"], b"", "--window: '-5' is negative")
    expect_bad(["--window", "five", "-"], b"", "--window: 'five' is not an integer")
    expect_bad(["--cap", "-1", "-"], b"", "--cap: '-1' is negative")
    expect_bad(["--cap", "1.5", "-"], b"", "--cap: '1.5' is not an integer")


def case_unknown_mode():
    expect_bad(["--mode", "buffer", "-"], b"", "--mode: unknown mode 'buffer' (expected cutoff "
               "or reserve)", stdout_rows=[])
    expect_bad(["--mode", "CUTOFF", "-"], b"", "--mode: unknown mode 'CUTOFF'")
    expect_bad(["--mode="], None, "--mode: unknown mode ''")


def case_file_arguments():
    expect_bad([], None, "no input file")
    expect_bad(["a.csv", "b.csv"], None, "extra argument 'b.csv'")
    expect_bad(["/nonexistent/feed.csv"], None,
               "cannot open '/nonexistent/feed.csv': No such file or directory", stdout_rows=[])
    with tempfile.TemporaryDirectory() as d:
        expect_bad([d], None, "cannot read '%s': Is a directory" % d, stdout_rows=[])
        # a file named like an option, after "--"
        name = os.path.join(d, "--cap")
        with open(name, "wb") as f:
            f.write(feed("1,a,S,5,"))
        rc, out, err = run(["--", name])
        expect(rc == 0 and out == HEADER_OUT + "\n1,a,S,,5,,5,export,first_seen,\n",
               "file after --: %d %r %r" % (rc, out, err))


# --- valgrind (registered by meson only when not building with sanitizers) ---

def with_valgrind(fn):
    vg = shutil.which("valgrind")
    if not vg:
        raise Skip("valgrind not found")
    global WRAP
    WRAP = [vg, "--quiet", "--leak-check=full", "--show-leak-kinds=all",
            "--errors-for-leak-kinds=all", "--error-exitcode=99"]
    try:
        fn()
    finally:
        WRAP = []


def case_valgrind_sample():
    with_valgrind(case_golden_stdout)
    with_valgrind(case_reserve_with_cap_and_window)
    with_valgrind(case_log_summary)


def case_valgrind_bad_input():
    def bad():
        case_error_after_good_rows()
        case_time_going_back()
        bad_row("2026-02-30T00:00:00Z,amazon,SKU,5,", "line 2, column 1 (time):")
        expect_bad(["--min-stock", "amazon=1", "--mode", "x", "-"], b"", "--mode:")
        expect_bad(["--min-stock", "amazon=1", "/nonexistent"], None, "cannot open")
        rc, out, err = run(["--help"])
        expect(rc == 0, "--help under valgrind: %d %s" % (rc, err))
    with_valgrind(bad)


def cases():
    return sorted(n[5:] for n, f in globals().items() if n.startswith("case_") and callable(f))


def main():
    global BIN, ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--bin")
    ap.add_argument("--source-root")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(cases()))
        return 0
    if not (a.bin and a.source_root and a.case in cases()):
        ap.error("need --bin, --source-root and one of: " + " ".join(cases()))
    BIN, ROOT = a.bin, a.source_root
    try:
        globals()["case_" + a.case]()
    except Fail as e:
        print("FAIL %s: %s" % (a.case, e))
        return 1
    except Skip as e:
        print("SKIP %s: %s" % (a.case, e))
        return 77
    print("ok %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
