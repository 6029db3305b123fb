#!/usr/bin/env python3
"""Python figures: the library from Python against the same rule in pure Python.

Rows (each side by side with its anchor, interleaved repetitions, medians):

  Python batch over buffers   stockguard.filter_batch(policy, to, from_, out=)
                              on array('q') buffers, outputs reused (one C
                              call, stg_filter_batch); the note gives the
                              figure with fresh outputs per call
                              vs a pure-Python loop doing the cutoff + window
                              rule into the same four outputs.
  Python batch, evaluate only Policy.evaluate_batch (stg_policy_evaluate_batch)
                              vs a pure-Python loop of the cutoff rule.
  Python single call          Policy.decide(to, from_) once per change,
                              reading decision, reason, to.published and
                              to.warnings, vs a pure-Python function called
                              once per change; target <= 1.5 us per call.
  Python single call, ctypes  stg_filter_decide through ctypes directly with
                              a reused struct (the floor of any ctypes binding).

  Log rows (one integration, SKUs "SKU-%08d" in random order, a fresh log
  per repetition; pass 1 gives each SKU its first change, an export, pass 2
  a second change in another random order, coalesced: 2N submits), against
  PyLog, the same submit path written by hand in pure Python (dict per SKU:
  the cutoff minimum, the filter's decision table, one job per SKU with
  coalescing), measured in the same run:
  Python Log.submit           one call per change, reading r.decision
  Python Log.submit_columns   one call per pass: a list of SKUs, array('q')
                              quantities and sequences
  Python Log.pump             N due jobs, a Python transport that
                              acknowledges at once (send(), batch 1; and
                              send_batch(), batch 100); target vs the
                              anchor's per-change cost
  Python Log.query            iterating every entry, reading sku and status;
                              target vs the anchor's per-change cost

The binding (bindings/python/stockguard) is used when it imports; otherwise
the batch rows fall back to ctypes directly (the binding is a thin ctypes
layer) and say so in their note. The library is STOCKGUARD_LIBRARY.

  bench_python.py [--sizes=10k,100k] [--log-sizes=50k,100k] [--reps=5] [--out=FILE]
  env: STG_BENCH_PY_SIZES, STG_BENCH_PY_LOG_SIZES (the log rows, default
       50k,100k; either "none" to leave its rows out), STG_BENCH_PY_SINGLE_MAX (largest size for the single-call
       rows, default 1M), STG_BENCH_REPS, STG_BENCH_OUT
"""
from __future__ import annotations

import array
import collections
import ctypes
import json
import os
import platform
import random
import statistics
import sys
import time

MIN_STOCK = 3
WINDOW = 5
MIN_ITEMS = 200_000   # each batch sample covers at least this many changes
MIN_ITEMS_SINGLE = 20_000   # and each single-call sample this many

# reasons and decisions (stockguard/filter.h)
SKIP, EXPORT = 0, 1
R_NO_CHANGE, R_LOW_STOCK, R_OUTSIDE = 3, 4, 5


def parse_sizes(text):
    """'10k,1M' -> [10000, 1000000]; 'none' -> [] (those rows left out)."""
    out = []
    if text.strip() == "none":
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        mult = 1
        if part[-1] in "kK":
            mult, part = 1_000, part[:-1]
        elif part[-1] in "mM":
            mult, part = 1_000_000, part[:-1]
        out.append(int(float(part) * mult))
    return out


def options():
    sizes = parse_sizes(os.environ.get("STG_BENCH_PY_SIZES") or "10k,100k")
    reps = int(os.environ.get("STG_BENCH_REPS") or 5)
    out = os.environ.get("STG_BENCH_OUT") or None
    single_max = int(parse_sizes(os.environ.get("STG_BENCH_PY_SINGLE_MAX") or "1M")[0])
    log_sizes = parse_sizes(os.environ.get("STG_BENCH_PY_LOG_SIZES") or "50k,100k")
    for arg in sys.argv[1:]:
        if arg.startswith("--sizes="):
            sizes = parse_sizes(arg[8:])
        elif arg.startswith("--log-sizes="):
            log_sizes = parse_sizes(arg[12:])
        elif arg.startswith("--reps="):
            reps = int(arg[7:])
        elif arg.startswith("--out="):
            out = arg[6:]
        else:
            sys.exit("usage: bench_python.py [--sizes=10k,1M] [--log-sizes=50k] [--reps=N] "
                     "[--out=FILE]")
    return sizes, max(1, reps), out, single_max, log_sizes


# ----------------------------------------------------------------- the anchor

def py_filter_loop(m, w, frm, to):
    """The rule in pure Python over whole arrays: the batch anchor."""
    n = len(to)
    dec = bytearray(n)
    rea = bytearray(n)
    war = bytearray(n)
    pub = array.array("q", bytes(8 * n))
    for i in range(n):
        a0 = frm[i]
        a1 = to[i]
        p0 = 0 if a0 <= m else a0
        p1 = 0 if a1 <= m else a1
        if p0 == p1:
            rea[i] = R_NO_CHANGE
        elif p0 <= w or p1 <= w:
            dec[i] = EXPORT
            rea[i] = R_LOW_STOCK
        else:
            rea[i] = R_OUTSIDE
        pub[i] = p1
        if a1 > 0 and p1 == 0:
            war[i] = 1
    return dec, rea, pub, war


def py_evaluate_loop(m, avail):
    n = len(avail)
    pub = array.array("q", bytes(8 * n))
    war = bytearray(n)
    for i in range(n):
        a = avail[i]
        if a <= m:
            if a > 0:
                war[i] = 1
        else:
            pub[i] = a
    return pub, war


def py_decide(m, w, a0, a1):
    """The rule in pure Python for one change: the single-call anchor."""
    p0 = 0 if a0 <= m else a0
    p1 = 0 if a1 <= m else a1
    if p0 == p1:
        d, r = SKIP, R_NO_CHANGE
    elif p0 <= w or p1 <= w:
        d, r = EXPORT, R_LOW_STOCK
    else:
        d, r = SKIP, R_OUTSIDE
    return d, r, p1, 1 if (a1 > 0 and p1 == 0) else 0


# ------------------------------------------------- the log anchor: pure Python
# decisions and reasons of the log (stockguard/filter.h, log.h)
COALESCED, STALE = 2, 3
R_FIRST_SEEN, R_COALESCED, R_STALE = 1, 8, 9


class PyLog:
    """The submit path a connector would write by hand, in pure Python.

    One dict entry per (integration, SKU): ``[sequence, available,
    published, job]``; the cutoff minimum of the integration, the filter's
    decision table on published values (first seen, no change, low stock,
    outside the window), stale changes by sequence, one job per SKU and
    coalescing into a waiting job.  It does less than the library (no
    priorities, retries, storage, events or stats).
    """

    def __init__(self, min_stock, window):
        self.mins = {}
        self.default_min = min_stock
        self.window = window
        self.entries = {}
        self.queue = []
        self.next_job = 1

    def submit(self, integration, sku, available, sequence):
        m = self.mins.get(integration, self.default_min)
        pub = 0 if available <= m else available
        key = (integration, sku)
        e = self.entries.get(key)
        if e is None:
            job = self.next_job
            self.next_job = job + 1
            self.entries[key] = [sequence, available, pub, job]
            self.queue.append(key)
            return EXPORT, R_FIRST_SEEN, pub, job
        if sequence < e[0]:
            return STALE, R_STALE, e[2], 0
        e[0] = sequence
        if e[3]:
            e[1] = available
            e[2] = pub
            return COALESCED, R_COALESCED, pub, e[3]
        p0 = e[2]
        e[1] = available
        e[2] = pub
        if p0 == pub:
            return SKIP, R_NO_CHANGE, pub, 0
        if p0 <= self.window or pub <= self.window:
            job = self.next_job
            self.next_job = job + 1
            e[3] = job
            self.queue.append(key)
            return EXPORT, R_LOW_STOCK, pub, job
        return SKIP, R_OUTSIDE, pub, 0


def anchor_tally(passes, integ):
    """The anchor's decisions over the feed, counted in an untimed run."""
    py = PyLog(MIN_STOCK, WINDOW)
    names = {EXPORT: "export", COALESCED: "coalesced", STALE: "stale", SKIP: "skip"}
    tally = collections.Counter()
    for ps, qty, seq in passes:
        for i in range(len(ps)):
            tally[names[py.submit(integ, ps[i], qty[i], seq[i])[0]]] += 1
    return dict(tally)


# ------------------------------------------------------- the library: ctypes

class Evaluation(ctypes.Structure):
    _fields_ = [("available", ctypes.c_int64), ("published", ctypes.c_int64),
                ("min_stock", ctypes.c_int64), ("min_source", ctypes.c_int),
                ("rule", ctypes.c_int), ("warnings", ctypes.c_uint),
                ("reserved_", ctypes.c_uint * 5)]


class FilterResult(ctypes.Structure):
    _fields_ = [("decision", ctypes.c_int), ("reason", ctypes.c_int),
                ("from_", Evaluation), ("to", Evaluation), ("reserved_", ctypes.c_uint * 4)]


class Change(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("flags", ctypes.c_uint),
                ("sku", ctypes.c_char_p), ("category", ctypes.c_char_p),
                ("from_", ctypes.c_int64), ("to", ctypes.c_int64),
                ("since_export_ms", ctypes.c_int64)]


class Raw:
    """ctypes straight onto the C ABI, without the binding."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        self.lib = lib
        P = ctypes.c_void_p
        lib.stg_policy_new.argtypes = [ctypes.POINTER(P), P]
        lib.stg_policy_set_min_stock.argtypes = [P, ctypes.c_int64]
        lib.stg_policy_set_window.argtypes = [P, ctypes.c_int64]
        lib.stg_policy_free.argtypes = [P]
        lib.stg_filter_decide.argtypes = [P, ctypes.POINTER(Change), ctypes.POINTER(FilterResult)]
        lib.stg_filter_batch.argtypes = [P, ctypes.c_size_t, P, P, P, P, P, P, P, P, P, P, P]
        lib.stg_policy_evaluate_batch.argtypes = [P, ctypes.c_size_t, P, P, P, P, P]
        self.policy = P()
        if (lib.stg_policy_new(ctypes.byref(self.policy), None) or
                lib.stg_policy_set_min_stock(self.policy, MIN_STOCK) or
                lib.stg_policy_set_window(self.policy, WINDOW)):
            raise RuntimeError("stg_policy_new failed")

    @staticmethod
    def _addr(buf):
        return ctypes.addressof(ctypes.c_char.from_buffer(buf)) if len(buf) else None

    def filter_batch(self, frm, to):
        n = len(to)
        dec, rea, war = bytearray(n), bytearray(n), bytearray(n)
        pub = array.array("q", bytes(8 * n))
        a = self._addr
        rc = self.lib.stg_filter_batch(self.policy, n, None, None, a(frm), None, a(to), None,
                                       None, a(dec), a(rea), a(pub), a(war))
        if rc:
            raise RuntimeError("stg_filter_batch: %d" % rc)
        return dec, rea, pub, war

    def evaluate_batch(self, avail):
        n = len(avail)
        pub = array.array("q", bytes(8 * n))
        war = bytearray(n)
        rc = self.lib.stg_policy_evaluate_batch(self.policy, n, None, None, self._addr(avail),
                                                self._addr(pub), self._addr(war))
        if rc:
            raise RuntimeError("stg_policy_evaluate_batch: %d" % rc)
        return pub, war

    def decide_loop(self, frm, to):
        """One ctypes call per change, struct reused: the floor of a binding."""
        ch = Change(1, 1, None, None, 0, 0, -1)   # STG_CHANGE_HAS_FROM
        res = FilterResult()
        pch, pres = ctypes.byref(ch), ctypes.byref(res)
        decide = self.lib.stg_filter_decide
        pol = self.policy
        n = len(to)
        dec, rea, war = bytearray(n), bytearray(n), bytearray(n)
        pub = array.array("q", bytes(8 * n))
        for i in range(n):
            ch.from_ = frm[i]
            ch.to = to[i]
            decide(pol, pch, pres)
            dec[i] = res.decision
            rea[i] = res.reason
            pub[i] = res.to.published
            war[i] = res.to.warnings
        return dec, rea, pub, war


def load_binding():
    try:
        import stockguard as sg   # noqa: WPS433
    except Exception as exc:       # the binding may not be there yet
        return None, "binding not importable (%s: %s)" % (type(exc).__name__, exc)
    return sg, "binding %s at %s" % (getattr(sg, "__file__", "?"), sg.library_path())


# ---------------------------------------------------------------------- runs

def make_data(n, seed=12345):
    rnd = random.Random(seed)
    frm = array.array("q", bytes(8 * n))
    to = array.array("q", bytes(8 * n))
    rb = rnd.getrandbits
    for i in range(n):
        r = rb(64)
        a = (r >> 8) % 16 if r % 100 < 40 else (r >> 8) % 500
        if (r >> 20) % 100 == 0:
            a = -((r >> 28) % 5)
        frm[i] = a
        to[i] = a + (r >> 40) % 7 - 3 if (r >> 32) % 100 < 70 else (r >> 44) % 500
    return frm, to


def digest(parts):
    import hashlib
    h = hashlib.sha256()
    for p in parts:
        h.update(bytes(p))
    return h.hexdigest()[:16]


def measure(kernels, n, reps, min_items=MIN_ITEMS):
    """kernels: name -> callable returning outputs. Interleaved, rotated order;
    returns name -> (median ns per change, min, digest of the outputs)."""
    inner = max(1, -(-min_items // n))
    names = list(kernels)
    times = {k: [] for k in names}
    outs = {}
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            fn = kernels[k]
            t0 = time.process_time()
            for _ in range(inner):
                out = fn()
            times[k].append((time.process_time() - t0) / (n * inner) * 1e9)
            outs[k] = out
    return {k: (statistics.median(times[k]), min(times[k]), digest(outs[k])) for k in names}


def emit(out, row):
    line = "%-44s %10d  lib %12.4g %-10s" % (row["figure"], row["size"], row["lib"],
                                            row["lib_unit"])
    if row.get("anchor") is not None:
        line += "  anchor %12.4g" % row["anchor"]
    if row.get("ratio") is not None:
        line += "  ratio %8.3f" % row["ratio"]
    line += "  target %s %s" % (row["target"],
                                "" if row["met"] is None else "MET" if row["met"] else "MISSED")
    if row.get("note"):
        line += "  (%s)" % row["note"]
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


# ---------------------------------------------------------------- log rows

def make_feed(n, seed=777):
    """SKUs and two passes of (order, quantities, sequences) over them."""
    rnd = random.Random(seed)
    skus = ["SKU-%08d" % i for i in range(n)]
    passes = []
    for p in range(2):
        order = list(range(n))
        rnd.shuffle(order)
        ps = [skus[i] for i in order]
        qty = array.array("q", (rnd.randrange(0, 40) for _ in range(n)))
        seq = array.array("q", [p + 1]) * n
        passes.append((ps, qty, seq))
    return passes


def log_rows(sg, sizes, reps, out):
    integ = "amazon"

    def new_log():
        log = sg.Log(transport=lambda job: None)
        with sg.Policy(min_stock=MIN_STOCK, window=WINDOW) as p:
            log.set_policy(integ, p)
        return log

    for n in sizes:
        passes = make_feed(n)
        t = {k: [] for k in ("pure", "submit", "columns", "pump1", "pump100", "query")}
        tallies = {}
        for r in range(reps):
            order = ["pure", "submit", "columns"]
            order = order[r % 3:] + order[:r % 3]
            for k in order:
                if k == "pure":
                    py = PyLog(MIN_STOCK, WINDOW)
                    sub = py.submit
                    t0 = time.process_time()
                    for ps, qty, seq in passes:
                        for i in range(n):
                            sub(integ, ps[i], qty[i], seq[i])[0]
                    t[k].append((time.process_time() - t0) / (2 * n) * 1e9)
                    continue
                log = new_log()
                if k == "submit":
                    sub = log.submit
                    t0 = time.process_time()
                    for ps, qty, seq in passes:
                        for i in range(n):
                            sub(integ, ps[i], qty[i], sequence=seq[i]).decision
                    t[k].append((time.process_time() - t0) / (2 * n) * 1e9)
                    tallies[k] = lib_tally(log)
                    log.close()
                    continue
                t0 = time.process_time()
                for ps, qty, seq in passes:
                    log.submit_columns(integ, ps, qty, seq).decisions
                t[k].append((time.process_time() - t0) / (2 * n) * 1e9)
                tallies[k] = lib_tally(log)
                # the pump (send, batch 1) and the query over the same log
                t0 = time.process_time()
                sent = log.pump()
                t["pump1"].append((time.process_time() - t0) / max(sent, 1) * 1e9)
                seen = 0
                t0 = time.process_time()
                for e in log.query():
                    if e.sku and e.status == 1:
                        seen += 1
                t["query"].append((time.process_time() - t0) / max(seen, 1) * 1e9)
                if sent != n or seen != n:
                    sys.exit("bench_python: pump sent %d, query saw %d of %d" % (sent, seen, n))
                log.close()
            # send_batch, batch 100: a separate log with N due jobs
            log = sg.Log(transport=_AckAll())
            log.set_limits(integ, batch_size=100)
            log.submit_columns(integ, passes[0][0], passes[0][1], passes[0][2])
            t0 = time.process_time()
            sent = log.pump()
            t["pump100"].append((time.process_time() - t0) / max(sent, 1) * 1e9)
            log.close()
        tallies["pure"] = anchor_tally(passes, integ)
        norm = {k: tuple(sorted(v.items())) for k, v in tallies.items()}
        if len(set(norm.values())) != 1:
            sys.exit("bench_python: decisions differ at n=%d: %s" % (n, norm))
        med = {k: statistics.median(v) for k, v in t.items()}
        anchor = med["pure"]
        rows = [
            ("Python Log.submit, one call per change", "submit", "ns/change", 2.0,
             "r = log.submit(integration, sku, available, sequence=); r.decision read"),
            ("Python Log.submit_columns, per change", "columns", "ns/change", 0.3,
             "one call per pass of N: list of SKUs, array('q') quantities and sequences"),
            ("Python Log.pump, send() acks at once, per job", "pump1", "ns/job", 3.0,
             "batch size 1, transport returns None (OK); vs the anchor's per-change cost"),
            ("Python Log.pump, send_batch() acks at once, per job", "pump100", "ns/job", 3.0,
             "batch size 100, send_batch returns None (all OK)"),
            ("Python Log.query iteration, per entry", "query", "ns/entry", 1.0,
             "for e in log.query(): e.sku, e.status read; vs the anchor's per-change cost"),
        ]
        for figure, key, unit, limit, note in rows:
            ratio = med[key] / anchor
            emit(out, {"figure": figure, "size": n, "lib": med[key], "lib_unit": unit,
                       "anchor": anchor, "anchor_name": "PyLog: the submit path in pure Python",
                       "ratio": ratio, "ratio_def": "time lib / time pure Python per change",
                       "target": "<= %gx" % limit, "met": ratio <= limit, "reps": reps,
                       "note": "%s; decisions %s" % (note, dict(norm["pure"]))})


def lib_tally(log):
    """Decisions of the log's submits so far, from its counters."""
    st = log.stats()
    out = {"export": st.exports, "coalesced": st.coalesced, "stale": st.stale,
           "skip": sum(st.skips.values())}
    return {k: v for k, v in out.items() if v}


class _AckAll:
    """A transport that acknowledges every job at once, in batches."""

    def send(self, job):
        return None

    def send_batch(self, jobs):
        return None


def main():
    sizes, reps, out, single_max, log_sizes = options()
    sg, how = load_binding()
    path = os.environ.get("STOCKGUARD_LIBRARY") or (sg.library_path() if sg else None)
    if not path:
        sys.exit("bench_python: set STOCKGUARD_LIBRARY to the built libstockguard.so")
    raw = Raw(path)
    print("# python %s (%s); %s; library %s" % (platform.python_version(),
                                               platform.python_implementation(), how, path))
    policy = sg.Policy(min_stock=MIN_STOCK, window=WINDOW) if sg else None
    via = "binding" if sg else "ctypes direct (binding missing)"

    for n in sizes:
        frm, to = make_data(n)

        # --- batch: evaluate + filter
        kern = {"pure": lambda: py_filter_loop(MIN_STOCK, WINDOW, frm, to),
                "raw": lambda: raw.filter_batch(frm, to)}
        if sg:
            # A connector filtering feed after feed reuses its outputs
            # (out=); "fresh" allocates them per call, whose page faults
            # dominate above ~100k changes. Both are reported.
            reuse = sg.FilterBatch.empty(n)

            def lib_batch():
                b = sg.filter_batch(policy, to, frm, out=reuse)
                return b.decisions, b.reasons, b.published_to, b.warnings

            def lib_fresh():
                b = sg.filter_batch(policy, to, frm)
                return b.decisions, b.reasons, b.published_to, b.warnings
            kern["lib"] = lib_batch
            kern["fresh"] = lib_fresh
        res = measure(kern, n, reps)
        libk = "lib" if sg else "raw"
        if len({v[2] for v in res.values()}) != 1:
            sys.exit("bench_python: outputs differ at n=%d: %s" % (n, res))
        ratio = res["pure"][0] / res[libk][0]
        emit(out, {"figure": "Python batch over buffers (evaluate+filter)", "size": n,
                   "lib": res[libk][0], "lib_unit": "ns/change", "anchor": res["pure"][0],
                   "anchor_name": "pure Python loop", "ratio": ratio,
                   "ratio_def": "time pure Python / time lib (speedup)", "target": ">= 50x",
                   "met": ratio >= 50, "reps": reps,
                   "note": "%s filter_batch on array('q'), out= reused; fresh outputs %s; "
                           "raw ctypes %.3g ns/change; digest %s"
                           % (via, "%.3g ns/change (%.1fx)" % (res["fresh"][0], res["pure"][0] /
                                                               res["fresh"][0])
                              if "fresh" in res else "n/a", res["raw"][0], res["pure"][2])})

        # --- batch: evaluate only
        kern = {"pure": lambda: py_evaluate_loop(MIN_STOCK, to),
                "raw": lambda: raw.evaluate_batch(to)}
        if sg:
            reuse_ev = sg.EvaluationBatch.empty(n)

            def lib_eval():
                b = policy.evaluate_batch(to, out=reuse_ev)
                return b.published, b.warnings
            kern["lib"] = lib_eval
        res = measure(kern, n, reps)
        if len({v[2] for v in res.values()}) != 1:
            sys.exit("bench_python: evaluate outputs differ at n=%d: %s" % (n, res))
        ratio = res["pure"][0] / res[libk][0]
        emit(out, {"figure": "Python batch over buffers (evaluate only)", "size": n,
                   "lib": res[libk][0], "lib_unit": "ns/item", "anchor": res["pure"][0],
                   "anchor_name": "pure Python loop", "ratio": ratio,
                   "ratio_def": "time pure Python / time lib (speedup)", "target": ">= 50x",
                   "met": ratio >= 50, "reps": reps,
                   "note": "%s evaluate_batch, out= reused; raw ctypes %.3g ns/item"
                           % (via, res["raw"][0])})

        # --- single calls
        if n > single_max:
            print("# single-call rows skipped at n=%d (STG_BENCH_PY_SINGLE_MAX=%d)"
                  % (n, single_max))
            continue

        def pure_single():
            dec, rea, war = bytearray(n), bytearray(n), bytearray(n)
            pub = array.array("q", bytes(8 * n))
            for i in range(n):
                dec[i], rea[i], pub[i], war[i] = py_decide(MIN_STOCK, WINDOW, frm[i], to[i])
            return dec, rea, pub, war

        kern = {"pure": pure_single, "raw": lambda: raw.decide_loop(frm, to)}
        if sg:
            def lib_single():
                dec, rea, war = bytearray(n), bytearray(n), bytearray(n)
                pub = array.array("q", bytes(8 * n))
                decide = policy.decide
                for i in range(n):
                    r = decide(to[i], frm[i])
                    dec[i] = r.decision
                    rea[i] = r.reason
                    pub[i] = r.to.published
                    war[i] = r.to.warnings
                return dec, rea, pub, war
            kern["lib"] = lib_single
        res = measure(kern, n, reps, MIN_ITEMS_SINGLE)
        if len({v[2] for v in res.values()}) != 1:
            sys.exit("bench_python: single-call outputs differ at n=%d: %s" % (n, res))
        if sg:
            ratio = res["pure"][0] / res["lib"][0]
            emit(out, {"figure": "Python single call (Policy.decide)", "size": n,
                       "lib": res["lib"][0], "lib_unit": "ns/change", "anchor": res["pure"][0],
                       "anchor_name": "pure Python function", "ratio": ratio,
                       "ratio_def": "time pure Python / time lib (speedup)",
                       "target": "<= 1500 ns", "met": res["lib"][0] <= 1500, "reps": reps,
                       "note": "policy.decide(to, from_) once per change, decision, reason, "
                               "to.published, to.warnings read"})
        ratio = res["pure"][0] / res["raw"][0]
        emit(out, {"figure": "Python single call (raw ctypes stg_filter_decide)", "size": n,
                   "lib": res["raw"][0], "lib_unit": "ns/change", "anchor": res["pure"][0],
                   "anchor_name": "pure Python function", "ratio": ratio,
                   "ratio_def": "time pure Python / time lib (speedup)",
                   "target": "report", "met": None, "reps": reps,
                   "note": "argtypes set, struct reused: the floor of a ctypes binding"})
    if sg and log_sizes:
        log_rows(sg, log_sizes, reps, out)
    if policy is not None:
        policy.close() if hasattr(policy, "close") else None


if __name__ == "__main__":
    main()
