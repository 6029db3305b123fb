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
import html
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HEADER_OUT = ("time,integration,sku,from,to,published_from,published_to,"
              "decision,reason,warning")
HEADER_IN = "time,integration,sku,available,fields"
DEMO_OPTS = ["--min-stock", "3", "--min-stock", "amazon=10"]

BIN = None
ROOT = None
BUILD = None  # this folder in the build tree: generated feeds, reports, screenshots
WRAP = []  # a command in front of the tool (valgrind)
# The tool takes its language from the locale: pin it, so every case reads English.
ENV = dict(os.environ, LC_ALL="C", LC_MESSAGES="", LANG="")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def run(args, stdin=None, env=None):
    """Run the tool; stdin is bytes or None. Returns (rc, stdout, stderr) as text."""
    p = subprocess.run(WRAP + [BIN] + list(args), input=stdin, env=env or ENV,
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


def case_explain():
    """--explain adds the library's sentence (stg_evaluation_explain) to every row."""
    rc, out, err = run(["--explain", "--min-stock", "3", "--min-stock", "amazon=10",
                        os.path.join(ROOT, "examples", "sample-feed.csv")])
    expect(rc == 0, "exit %d: %s" % (rc, err))
    lines = out.splitlines()
    expect(lines[0] == HEADER_OUT + ",explanation", "header: %r" % lines[0])
    plain = run(["--min-stock", "3", "--min-stock", "amazon=10",
                 os.path.join(ROOT, "examples", "sample-feed.csv")])[1].splitlines()
    expect(len(lines) == len(plain), "one line per row")
    for line, base in zip(lines[1:], plain[1:]):
        head, sep, text = line.partition(',"')
        expect(sep and head == base and text.endswith('"'), "row %r vs %r" % (line, base))
        cols = base.split(",")
        expect(text.startswith("publishes %s: " % cols[6]), "published_to in words: %r" % line)
        expect(text.endswith('; warning: min_stock_reached"') == (cols[9] == "min_stock_reached"),
               "the warning in words: %r" % line)
    expect('"publishes 0: available 9 is at or below the minimum stock 10 '
           '(the integration\'s minimum); warning: min_stock_reached"' in out,
           "the seed's example (minimum 10, 12 -> 9) in words")
    rc, out, err = run(["--explain", "--sweep", "window=0,5",
                        os.path.join(ROOT, "examples", "sample-feed.csv")])
    expect(rc == 2 and out == "" and "--explain" in err and "--sweep" in err,
           "--explain with --sweep is refused: %d %r" % (rc, err))


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
    for opt in ("--min-stock", "--window", "--mode", "--cap", "--version", "--report", "--rate",
                "--latency", "--latency-limit", "--sweep", "--lang", HEADER_IN, HEADER_OUT):
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


# --- what-if: report, simulated marketplace, sweep, languages, progress ------

WHATIF_KEYS = [  # (summary label, report data-figure)
    ("API calls", "calls"), ("API calls saved", "calls_saved"),
    ("by the filter", "saved_filter"), ("by coalescing", "saved_coalescing"),
    ("stock-outs published", "zeros"), ("min_stock_reached", "warnings"),
    ("late updates", "late"), ("of them zeros", "late_zeros"),
    ("queue delay mean (ms)", "delay_mean_ms"), ("queue delay max (ms)", "delay_max_ms")]
REASONS = ["first_seen", "non_stock_change", "low_stock", "no_change", "outside_window"]


def gen_feed(rows, seed, name, *extra):
    """A generated feed under the build folder (examples/gen-feed.py)."""
    out = os.path.join(BUILD, name)
    subprocess.run([sys.executable, path("examples", "gen-feed.py"), "--rows", str(rows),
                    "--seed", str(seed), "-o", out] + list(extra), check=True, timeout=120)
    return out


def parse_summary(err):
    """The figures of a summary: top lines, reasons, and the what-if columns."""
    got = {}
    for key in ("rows", "exports", "skips", "coalesced", "API calls saved",
                "min_stock_reached"):
        m = re.search(r"^  %s +(\d+)" % re.escape(key), err, re.M)
        if m:
            got["top " + key] = int(m.group(1))
    for r in REASONS:
        m = re.search(r"^    %s +(\d+)$" % r, err, re.M)
        got["reason " + r] = int(m.group(1))
    part = err[err.index("  what-if"):] if "  what-if" in err else ""
    for label, fig in WHATIF_KEYS:
        m = re.search(r"^ +%s +(\d+)(?: +(\d+))?$" % re.escape(label), part, re.M)
        if m:
            got["on " + fig] = int(m.group(1))
            if m.group(2) is not None:
                got["off " + fig] = int(m.group(2))
    return got


def parse_report(page):
    """data-figure values: the tiles of each run, per-integration rows, chart series sums."""
    got = {}
    for fig, run, v in re.findall(r'data-figure="(\w+)" data-run="(\w+)">(\d+)<', page):
        got["%s %s" % (run, fig)] = int(v)
    integ = {}
    for name, cells in re.findall(r'<tr data-integration="([^"]*)">(.*?)</tr>', page):
        integ[html.unescape(name)] = {k: int(v) for k, v in
                                      re.findall(r'data-figure="(\w+)">(\d+)<', cells)}
    series = {}
    for chart, body in re.findall(r'<svg id="([\w-]+)"[^>]*>(.*?)</svg>', page, re.S):
        for name, n in re.findall(r'data-series="([\w-]+)" data-n="(\d+)"', body):
            k = chart + " " + name
            series[k] = series.get(k, 0) + int(n)
    return got, integ, series


def check_report_agrees(opts, feed_path, want_off):
    """The report's numbers are the summary's, for one run."""
    report = os.path.join(BUILD, "agree-%d.html" % os.getpid())
    rc, out, err = run(list(opts) + ["--report", report, feed_path])
    expect(rc == 0, "exit status %d: %s" % (rc, err[-500:]))
    s = parse_summary(err)
    with open(report, encoding="utf-8") as f:
        page = f.read()
    tiles, integ, series = parse_report(page)
    for _, fig in WHATIF_KEYS:
        expect(tiles.get("on " + fig) == s["on " + fig],
               "%s: report %s, summary %s" % (fig, tiles.get("on " + fig), s["on " + fig]))
        if want_off:
            expect(tiles.get("off " + fig) == s["off " + fig],
                   "filter off %s: report %s, summary %s"
                   % (fig, tiles.get("off " + fig), s.get("off " + fig)))
    expect(("off calls" in tiles) == want_off, "filter-off figures present: %s" % want_off)
    expect(tiles["on rows"] == s["top rows"], "rows")
    for r in REASONS:
        expect(series.get("chart-reasons " + r, 0) == s["reason " + r],
               "per-hour %s: %s, summary %s" % (r, series.get("chart-reasons " + r),
                                                s["reason " + r]))
    expect(series.get("chart-reasons coalesced", 0) == s.get("top coalesced", 0), "coalesced")
    expect(series.get("chart-stockouts zeros", 0) == s["on zeros"], "stock-outs over time")
    expect(series.get("chart-stockouts warnings", 0) == s["on warnings"], "warnings over time")
    expect(series["chart-saved calls-on"] == s["on calls"], "calls bar")
    if want_off:
        expect(series.get("chart-late late-on", 0) == s["on late"], "late updates over time")
        expect(series.get("chart-late late-off", 0) == s["off late"], "late updates, filter off")
        for which in ("on", "off"):
            bars = [int(n) for n in re.findall(r'data-series="delay-%s" data-n="(\d+)"' % which,
                                              page)]
            expect(max(bars, default=0) == s[which + " delay_max_ms"],
                   "the longest bar of the delay chart (%s) is the summary's max" % which)
    sums = {}
    for figs in integ.values():
        for k, v in figs.items():
            sums[k] = sums.get(k, 0) + v
    for k, want in (("rows", s["top rows"]), ("exports", s["top exports"]),
                    ("skips", s["top skips"]), ("calls", s["on calls"]),
                    ("calls_saved", s["on calls_saved"]), ("warnings", s["on warnings"]),
                    ("zeros", s["on zeros"]), ("late", s["on late"])):
        expect(sums.get(k) == want, "per integration %s sums to %s, summary %s"
               % (k, sums.get(k), want))
    top = [int(v) for v in re.findall(r'data-figure="sku_exports">(\d+)<', page)]
    expect(top and top == sorted(top, reverse=True) and len(top) <= 20, "top SKUs: %s" % top)
    os.unlink(report)
    return s, page


def case_report_agrees_sample():
    sample_path = path("examples", "sample-feed.csv")
    s, page = check_report_agrees(DEMO_OPTS, sample_path, False)
    expect(s["on calls"] == 25 and s["on calls_saved"] == 13 and s["on warnings"] == 7,
           "the sample's figures: %s" % s)
    expect("No marketplace limit simulated" in page, "note without a limit")
    check_report_agrees(DEMO_OPTS + ["--rate", "1/s", "--latency", "500"], sample_path, True)


def case_report_agrees_generated():
    for seed, opts in ((3, ["--min-stock", "3"]),
                       (11, ["--min-stock", "5", "--window", "10", "--rate", "1/s",
                             "--rate", "amazon=3/s", "--latency", "250",
                             "--latency-limit", "60000"])):
        # One hour: busy enough for a 1/s marketplace to fall behind without the filter.
        feed_path = gen_feed(30000, seed, "agree-%d.csv" % seed, "--integrations", "4",
                             "--hours", "1")
        s, _ = check_report_agrees(opts, feed_path, "--rate" in opts)
        expect(s["on calls"] > 0 and s["on warnings"] > 0 and s["on zeros"] > 0,
               "a generated feed exercises it: %s" % s)
        if "--rate" in opts:
            expect(s["on late"] > 0 and s["off late"] > s["on late"],
                   "the filter shortens the queue: %s" % s)
        os.unlink(feed_path)


def case_report_self_contained():
    report = os.path.join(BUILD, "self-contained.html")
    rc, out, err = run(DEMO_OPTS + ["--rate", "2/s", "--latency", "100", "--report", report,
                                    path("examples", "sample-feed.csv")])
    expect(rc == 0, "exit status %d: %s" % (rc, err))
    with open(report, encoding="utf-8") as f:
        page = f.read()
    expect(page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>"), "one page")
    low = page.lower()
    for bad in ("http:", "https:", "src=", "@import", "url(", "<link", "@font-face", "<iframe",
                "<object", "<embed", "//"):
        expect(bad not in low, "the page refers outside itself: %r" % bad)
    for chart in ("chart-reasons", "chart-saved", "chart-stockouts", "chart-late", "chart-delay"):
        expect('<svg id="%s"' % chart in page, "chart %s" % chart)
    expect('id="integrations"' in page and 'id="top-skus"' in page, "tables")


def png_pixels(data):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, with the stdlib only."""
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, w = 8, [], 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            expect(depth == 8 and ctype in (2, 6) and interlace == 0,
                   "PNG depth %d, colour type %d, interlace %d" % (depth, ctype, interlace))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, [[tuple(r[x * bpp:x * bpp + 3]) for x in range(w)] for r in rows]


def case_browser_report():
    """Chromium renders the report headless: the screenshot is not blank and shows the charts."""
    chromium = shutil.which("chromium")
    if not chromium:
        raise Skip("chromium is not installed (Debian: apt-get install chromium)")
    feed_path = gen_feed(20000, 5, "browser-feed.csv")
    report = os.path.join(BUILD, "browser-report.html")
    png = os.path.join(BUILD, "browser-report.png")
    rc, out, err = run(["--min-stock", "3", "--rate", "1/s", "--latency", "300",
                        "--latency-limit", "60000", "--report", report, feed_path])
    expect(rc == 0, "exit status %d: %s" % (rc, err[-300:]))
    if os.path.exists(png):
        os.unlink(png)
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-quic", "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + profile, "--hide-scrollbars",
                            "--screenshot=" + png, "--window-size=1000,1700",
                            "file://" + os.path.abspath(report)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    expect(os.path.exists(png), "no screenshot (exit %d): %s" % (p.returncode, p.stderr[-500:]))
    with open(png, "rb") as f:
        w, h, pixels = png_pixels(f.read())
    expect((w, h) == (1000, 1700), "screenshot size %dx%d" % (w, h))
    counts = {}
    for row in pixels[::2]:
        for px in row[::2]:
            counts[px] = counts.get(px, 0) + 1
    expect(len(counts) > 20, "the screenshot is blank: %d colours" % len(counts))
    white = counts.get((255, 255, 255), 0)
    expect(white < 0.97 * sum(counts.values()), "the screenshot is nearly all white")

    def near(colour):
        r, g, b = int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
        return sum(n for (pr, pg, pb), n in counts.items()
                   if abs(pr - r) <= 8 and abs(pg - g) <= 8 and abs(pb - b) <= 8)
    # the series colours of report.c: per-hour bars, stock-outs and warnings
    for name, colour in (("first_seen", "#1f77b4"), ("outside_window", "#2ca02c"),
                         ("low_stock", "#ff7f0e"), ("stock-outs", "#d62728"),
                         ("min_stock_reached", "#e6a800")):
        expect(near(colour) >= 30, "no %s bars (%s) in the screenshot" % (name, colour))
    os.unlink(feed_path)


def sweep_table(out):
    lines = out.splitlines()
    head = lines[0].split(",")
    return head, [dict(zip(head, l.split(","))) for l in lines[1:]]


def case_sweep_equals_runs():
    sample_path = path("examples", "sample-feed.csv")
    feed_path = gen_feed(8000, 9, "sweep-feed.csv")
    for f, args, base in (
            (sample_path, ["--sweep", "min-stock=0,3,10", "--sweep", "window=0,5"],
             ["--min-stock", "amazon=10"]),
            (feed_path, ["--sweep", "rate=1/s,4/s", "--sweep=latency=0,800",
                         "--sweep", "mode=cutoff,reserve"],
             ["--min-stock", "4", "--latency-limit", "30000"])):
        report = os.path.join(BUILD, "sweep.html")
        rc, out, err = run(base + args + ["--report", report, f])
        expect(rc == 0, "sweep: exit status %d: %s" % (rc, err))
        expect(err == "", "a sweep prints no summary (stderr is not a terminal): %r" % err[:200])
        head, rows = sweep_table(out)
        axes = [a[len("--sweep="):] if a.startswith("--sweep=") else a
                for a in args if a != "--sweep"]
        settings = [a.split("=", 1)[0] for a in axes]
        expect(head == settings + ["calls", "calls_saved", "warnings", "stockouts_published",
                                   "late_updates"], "sweep header %s" % head)
        n = 1
        for a in axes:
            n *= len(a.split("=", 1)[1].split(","))
        expect(len(rows) == n, "%d runs, want %d" % (len(rows), n))
        with open(report, encoding="utf-8") as fh:
            page = fh.read()
        expect(page.count('data-series="sweep"') == n, "one point per run in the sweep chart")
        cells = re.findall(r'<tr data-run="\d+">(.*?)</tr>', page)
        expect(len(cells) == n, "one report row per run")
        for row, cell in zip(rows, cells):
            one = list(base)
            for k in settings:
                one += ["--" + k, row[k]]
            r2, o2, e2 = run(one + ["--report", os.path.join(BUILD, "sweep-one.html"), f])
            expect(r2 == 0, "separate run %s: %d %s" % (one, r2, e2))
            s = parse_summary(e2)
            for col, fig in (("calls", "calls"), ("calls_saved", "calls_saved"),
                             ("warnings", "warnings"), ("stockouts_published", "zeros"),
                             ("late_updates", "late")):
                expect(int(row[col]) == s["on " + fig],
                       "%s: sweep %s, separate run %s (%s)" % (col, row[col], s["on " + fig], one))
            figs = dict(re.findall(r'data-figure="(\w+)">(\d+)<', cell))
            expect(int(figs["calls"]) == int(row["calls"]) and
                   int(figs["late"]) == int(row["late_updates"]), "report row %s" % figs)
    os.unlink(feed_path)


def case_sweep_from_stdin():
    rc, out, err = run(DEMO_OPTS + ["--sweep", "window=0,5", "-"], stdin=sample())
    expect(rc == 0, "exit status %d: %s" % (rc, err))
    head, rows = sweep_table(out)
    expect([r["calls_saved"] for r in rows] == [rows[0]["calls_saved"], "13"],
           "window 5 saves the 13 calls of the golden summary: %s" % rows)


def case_bad_whatif_options():
    for args, where in (
            (["--sweep", "colour=1,2"], "--sweep: unknown setting"),
            (["--sweep", "window="], "--sweep: empty list of values"),
            (["--sweep", "window"], "--sweep: empty list of values"),
            (["--sweep", "window=1,,2"], "--sweep: empty value in the list"),
            (["--sweep", "window=1,x"], "--window: 'x' is not an integer"),
            (["--sweep", "mode=cutoff,buffer"], "--mode: unknown mode 'buffer'"),
            (["--sweep", "rate=0/s"], "--rate: '0/s' must be from 1/s"),
            (["--rate", "0/s"], "--rate: '0/s' must be from 1/s to 1000000/s"),
            (["--rate", "0"], "--rate: '0' is not a rate"),
            (["--rate", "5"], "--rate: '5' is not a rate (expected N/s"),
            (["--rate", "amazon=-1/s"], "--rate: '-1/s' is not a rate"),
            (["--rate", "=5/s"], "--rate: the integration name is empty"),
            (["--latency", "-1"], "--latency: '-1' is negative"),
            (["--latency", "99999999999999"], "--latency: '99999999999999' ms is more than"),
            (["--latency-limit", "x"], "--latency-limit: 'x' is not an integer"),
            (["--lang", "fr"], "--lang: unknown language 'fr' (expected en, pt or es)"),
            (["--lang", ""], "--lang: unknown language ''"),
            (["--report", ""], "--report: the file name is empty"),
            (["-", "--report"], "--report needs a value"),
            (["-", "--sweep"], "--sweep needs a value")):
        err = expect_bad(args + ([] if "-" in args else ["-"]), b"", where, stdout_rows=[])
        expect("Try 'stockguard-replay --help'" in err, "hint after %s: %r" % (args, err))
    expect_bad(["--report", "/nonexistent/dir/r.html", path("examples", "sample-feed.csv")],
               None, "cannot write '/nonexistent/dir/r.html'")


def i18n_tables():
    with open(path("examples", "replay", "i18n.h"), encoding="utf-8") as f:
        enum = re.findall(r"^\t(MSG_\w+),", f.read(), re.M)
    with open(path("examples", "replay", "i18n.c"), encoding="utf-8") as f:
        src = f.read()
    tables = {}
    for lang, body in re.findall(r"static const char \*const (\w\w)\[MSG_COUNT\] = \{(.*?)\n\};",
                                 src, re.S):
        tables[lang] = dict(re.findall(r'\[(MSG_\w+)\] = "((?:[^"\\]|\\.)*)"', body))
    return enum, tables


def case_lang_same_keys():
    """Every language has every label (a missing one fails here, not on a merchant's screen)."""
    enum, tables = i18n_tables()
    expect(sorted(tables) == ["en", "es", "pt"], "languages %s" % sorted(tables))
    expect(len(enum) > 50, "the message enum: %d keys" % len(enum))
    for lang, t in tables.items():
        missing = [k for k in enum if k not in t]
        extra = [k for k in t if k not in enum]
        expect(not missing and not extra, "%s: missing %s, unknown %s" % (lang, missing, extra))
        empty = [k for k, v in t.items() if not v.strip()]
        expect(not empty, "%s: empty labels %s" % (lang, empty))
    same = [k for k in enum if tables["pt"][k] == tables["en"][k] == tables["es"][k]]
    expect(len(same) < len(enum) // 5, "most labels are translated: the same in all: %s" % same)


def case_lang_summary_and_report():
    f = path("examples", "sample-feed.csv")
    for lang, word in (("pt", "resumo"), ("es", "resumen")):
        report = os.path.join(BUILD, "lang-%s.html" % lang)
        rc, out, err = run(DEMO_OPTS + ["--lang", lang, "--report", report, f])
        expect(rc == 0, "exit status %d: %s" % (rc, err))
        expect_eq(out, golden_stdout(), "--lang %s leaves the CSV as it is" % lang)
        expect(err.startswith("stockguard-replay %s\n" % word), "%s summary: %r" % (lang, err[:60]))
        for name in REASONS + ["min_stock_reached"]:
            expect(name in err, "%s: the name %s is kept" % (lang, name))
        expect("API calls saved" not in err, "%s summary still English" % lang)
        en = parse_summary(golden_stderr())
        nums = re.findall(r"^ +\S.*?(\d+)", err, re.M)
        expect(str(en["top API calls saved"]) in nums, "%s: the same figures" % lang)
        with open(report, encoding="utf-8") as fh:
            page = fh.read()
        _, tables = i18n_tables()
        expect('<html lang="%s">' % lang in page, "report language")
        title = tables[lang]["MSG_R_TITLE"].encode().decode("unicode_escape").encode(
            "latin-1").decode("utf-8")
        expect(html.escape(title, quote=True) in page or title in page,
               "report title in %s" % lang)


def case_lang_from_locale():
    f = path("examples", "sample-feed.csv")
    for env, word in (({"LANG": "pt_BR.UTF-8"}, "resumo"),
                      ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "es_ES.UTF-8"}, "resumen"),
                      ({"LANG": "pt_BR.UTF-8", "LC_ALL": "es_MX"}, "resumen"),
                      ({"LANG": "fr_FR.UTF-8"}, "summary"),
                      ({"LANG": "p"}, "summary"),
                      ({"LANG": "C"}, "summary")):
        e = dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG="")
        e.update(env)
        rc, out, err = run(DEMO_OPTS + [f], env=e)
        expect(rc == 0 and err.startswith("stockguard-replay %s\n" % word),
               "%s: %r" % (env, err[:40]))
    e = dict(os.environ, LC_ALL="pt_BR.UTF-8")
    rc, out, err = run(DEMO_OPTS + ["--lang", "en", f], env=e)
    expect(rc == 0 and err == golden_stderr(), "--lang en wins over the locale")


def log_saved_by_coalescing(err):
    """The calls saved by coalescing in the log's part of the summary (stg_stats)."""
    part = err[err.index("  integration log"):err.index("  what-if")]
    m = re.search(r"^      by coalescing +(\d+)$", part, re.M)
    expect(m is not None, "no 'by coalescing' in the log part: %r" % part)
    return int(m.group(1))


def case_rate_queues_and_coalesces():
    """A marketplace taking 1 call/s: jobs wait, a change merges into the waiting one."""
    t0 = 1769846400
    err = expect_ok(feed("%d,a,S,10," % t0, "%d,a,T,10," % t0, "%d,a,S,4," % t0,
                         "%d,a,T,3," % t0, "%d,a,T,2," % (t0 + 5)), ["--rate", "1/s"],
                    ["%d,a,S,,10,,10,export,first_seen," % t0,
                     "%d,a,T,,10,,10,export,first_seen," % t0,
                     "%d,a,S,10,4,10,4,export,low_stock," % t0,
                     "%d,a,T,10,3,10,3,coalesced,coalesced," % t0,
                     "%d,a,T,3,2,3,2,export,low_stock," % (t0 + 5)])
    s = parse_summary(err)
    # S goes at once; one token a second: T (queued first) at +1 s, S's 4 at +2 s; T's 2 at +5 s.
    expect(s["on calls"] == 4 and s["on saved_coalescing"] == 1 and s["on saved_filter"] == 0,
           "calls: %s" % s)
    expect(log_saved_by_coalescing(err) == 1, "the log counts it too (stg_stats): %r" % err)
    expect(s["on delay_max_ms"] == 2000 and s["on delay_mean_ms"] == 750, "delays: %s" % s)
    expect("rate 1/s; answers in 0 ms" in err, "marketplace line: %r" % err)
    # Answers take 600 ms: S's 4 comes while S's first call is in flight, so it
    # follows it (coalesced). T goes at +1 s (acknowledged at 1.6 s), S's 4 at
    # +2 s (2.6 s): both later than a limit of 1.5 s.
    err = expect_ok(feed("%d,a,S,10," % t0, "%d,a,T,10," % t0, "%d,a,S,4," % t0), [
        "--rate", "1/s", "--latency", "600", "--latency-limit", "1500"],
        ["%d,a,S,,10,,10,export,first_seen," % t0, "%d,a,T,,10,,10,export,first_seen," % t0,
         "%d,a,S,10,4,10,4,coalesced,coalesced," % t0])
    s = parse_summary(err)
    expect(s["on calls"] == 3 and s["on saved_coalescing"] == 0, "a follow-up is a call: %s" % s)
    expect(log_saved_by_coalescing(err) == 0, "the log agrees: %r" % err)
    expect(s["on late"] == 2 and "abnormal 2 (later than 1500 ms)" in err, "late: %s" % err)
    expect(s["on delay_max_ms"] == 2000 and s["on delay_mean_ms"] == 1000, "delays: %s" % s)
    # Without a limit nothing waits: the same answers as the golden files.
    rc, out, err = run(DEMO_OPTS + ["--latency", "0", path("examples", "sample-feed.csv")])
    expect(rc == 0, "exit %d" % rc)
    expect_eq(out, golden_stdout(), "--latency 0 prints the golden decisions")


def case_per_integration_rate():
    rc, out, err = run(DEMO_OPTS + ["--rate", "amazon=1/s", "--rate", "ebay=2/s",
                                    path("examples", "sample-feed.csv")])
    expect(rc == 0, "exit %d: %s" % (rc, err))
    expect("rate no limit, amazon 1/s, ebay 2/s (not in the feed)" in err, "rates: %r" % err)
    off = [l for l in out.splitlines()[1:] if l.split(",")[1] != "amazon"]
    want = [l for l in golden_stdout().splitlines()[1:] if l.split(",")[1] != "amazon"]
    expect(off == want, "integrations without a limit answer as before")


def case_progress_only_on_a_terminal():
    import pty
    try:
        master, slave = pty.openpty()
    except OSError as e:
        # A chroot or container without /dev/pts has no terminal to offer:
        # nothing to test there (meson counts exit 77 as skipped).
        print("SKIP: no pseudo-terminal: %s" % e)
        sys.exit(77)
    feed_path = gen_feed(400000, 2, "progress-feed.csv")
    # Progress every 4,096 rows from the start: both runs show it however
    # fast the machine is (by default a run under half a second shows none).
    env = dict(ENV, STOCKGUARD_REPLAY_PROGRESS_MS="0")
    p = subprocess.Popen(WRAP + [BIN, "--rate", "2/s", "--latency", "100", feed_path],
                         stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    rc = p.wait(timeout=120)
    os.close(master)
    tty = b"".join(chunks).decode("utf-8", "replace")
    expect(rc == 0, "exit %d: %s" % (rc, tty[-300:]))
    expect(re.search(r"\d+ rows, \d+ rows/s, \d+ s left", tty), "no progress on a terminal: %r"
           % tty[:300])
    expect("filter off: " in tty, "the comparison run shows its progress too")
    summary_at = tty.index("stockguard-replay summary")
    expect(tty[:summary_at].endswith("\r\x1b[K"), "the progress line is erased first")
    rc, out, err = run([feed_path])
    expect(rc == 0 and "\r" not in err and "rows/s" not in err,
           "progress in a pipe: %r" % err[:200])
    os.unlink(feed_path)


def case_gen_feed():
    opts = ("--integrations", "4", "--hours", "10", "--skus", "300")
    a = gen_feed(5000, 42, "gen-a.csv", *opts)
    b = gen_feed(5000, 42, "gen-b.csv", *opts)
    c = gen_feed(5000, 43, "gen-c.csv", *opts)
    data = [open(x, "rb").read() for x in (a, b, c)]
    expect(data[0] == data[1], "the same seed gives the same feed")
    expect(data[0] != data[2], "another seed gives another feed")
    lines = data[0].decode().splitlines()
    expect(lines[0] == HEADER_IN and len(lines) == 5001, "header and 5000 rows")
    rows = [l.split(",") for l in lines[1:]]
    times = [int(r[0]) for r in rows]
    expect(times == sorted(times) and times[-1] - times[0] < 10 * 3600, "in time order, 10 h")
    expect(len({r[1] for r in rows}) == 4, "four integrations")
    expect(any(int(r[3]) < 0 for r in rows), "oversell spikes (negative available)")
    expect(any(r[4] == "price" for r in rows), "price changes")
    last, restock = {}, 0
    for r in rows:
        k = (r[1], r[2])
        if k in last and int(r[3]) > last[k] + 10:
            restock += 1
        last[k] = int(r[3])
    expect(restock > 0, "restocks")
    skus = {}
    for r in rows:
        skus[r[2]] = skus.get(r[2], 0) + 1
    counts = sorted(skus.values(), reverse=True)
    expect(counts[0] > 10 * counts[len(counts) // 2], "long tail: %s" % counts[:5])
    rc, out, err = run([a])
    expect(rc == 0 and len(out.splitlines()) == 5001, "the replay reads it: %d %s" % (rc, err))
    for x in (a, b, c):
        os.unlink(x)
    p = subprocess.run([sys.executable, path("examples", "gen-feed.py"), "--rows", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.returncode == 2 and b"at least 1" in p.stderr, "--rows 0 is refused")


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


def case_valgrind_whatif():
    def whatif():
        case_rate_queues_and_coalesces()
        check_report_agrees(DEMO_OPTS + ["--rate", "1/s", "--rate", "amazon=2/s", "--latency",
                                         "500", "--lang", "en"],
                            path("examples", "sample-feed.csv"), True)
        report = os.path.join(BUILD, "valgrind-sweep.html")
        rc, out, err = run(DEMO_OPTS + ["--sweep", "window=0,5", "--sweep", "latency=0,300",
                                        "--lang", "pt", "--report", report, "-"], stdin=sample())
        expect(rc == 0 and len(out.splitlines()) == 5, "sweep under valgrind: %d %s" % (rc, err))
        expect_bad(["--sweep", "window=1,,2", "-"], b"", "--sweep: empty value")
        expect_bad(["--rate", "0/s", "--sweep", "window=1", "-"], b"", "--rate:")
        expect_bad(["--report", "/nonexistent/x.html", "-"], b"", "cannot write")
    with_valgrind(whatif)


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
    ap.add_argument("--build-dir")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(cases()))
        return 0
    if not (a.bin and a.source_root and a.case in cases()):
        ap.error("need --bin, --source-root and one of: " + " ".join(cases()))
    global BUILD
    BIN, ROOT = a.bin, a.source_root
    BUILD = a.build_dir or tempfile.gettempdir()
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
