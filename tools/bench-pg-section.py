#!/usr/bin/env python3
"""Write the PostgreSQL section of docs/benchmarks.md from bench_pg's rows.

usage: bench-pg-section.py PG_JSONL PG_LOG COMMANDS_TXT DOC

PG_JSONL holds the rows tests/bench/bench_pg.c emits (figures starting with
"pg: "), PG_LOG its output (the "# pg:" line says which server and where its
data lives), COMMANDS_TXT the commands that ran. The environment gives
STARTED, FINISHED, LOAD_BEFORE and LOAD_AFTER. The section sits between two
HTML comments; it replaces the one already there, or goes in before
"## Commands". Called by `tools/bench.sh --pg`; the full run keeps the
section as it is.
"""
import json
import os
import subprocess
import sys

import bench_section

BEGIN = "<!-- tools/bench.sh: pg section begin (tools/bench.sh --pg rewrites it) -->"
END = "<!-- tools/bench.sh: pg section end -->"


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "s":
        return "%.3f s" % v
    return "%.0f %s" % (v, unit)


def size(n):
    return "%gM" % (n / 1e6) if n >= 1e6 else "%gk" % (n / 1e3) if n >= 1e3 else str(n)


def sh(args):
    return subprocess.run(args, capture_output=True, text=True).stdout.strip()


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    results, log, commands, doc = sys.argv[1:]
    rows = [json.loads(l) for l in open(results) if l.strip()]
    rows = [r for r in rows if r["figure"].startswith("pg: ")]
    if not rows:
        print("bench-pg-section.py: no bench_pg rows in %s" % results, file=sys.stderr)
        return 1
    setting = "?"
    for l in open(log):
        if l.startswith("# pg:"):
            setting = l[len("# pg:"):].strip().replace(os.getcwd() + "/", "")
    git = sh(["git", "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "status", "--porcelain", "--", "lib", "include", "examples/pg-store",
                "tests/bench"])
    L = [BEGIN, "## PostgreSQL (examples/pg-store on a server of its own, fsync on)", ""]
    L.append("Measured %s to %s at commit %s%s; load average %s before, %s after." % (
        os.environ.get("STARTED", "?"), os.environ.get("FINISHED", "?"), git or "?",
        " (**uncommitted changes in lib/, include/, examples/pg-store or tests/bench**)"
        if dirty else "", os.environ.get("LOAD_BEFORE", "?"), os.environ.get("LOAD_AFTER", "?")))
    L.append("")
    L.append("- Server: %s. Started by `tests/postgres/pg_harness.py --durable` (initdb into a "
             "new folder under the build folder, on the machine's disk; the server's durability "
             "defaults: fsync on, full page writes, synchronous commit; the client and the "
             "server on this machine, over the Unix socket; the server as `nobody`)." % setting)
    L.append("- `tests/bench/bench_pg.c`: each measurement in a fresh forked child with its own "
             "connection, the tables emptied (`TRUNCATE`) and a `CHECKPOINT` before it, "
             "interleaved repetitions (the order rotates), **medians**, **wall time** (round "
             "trips and fsync waits are the cost; the CPU of this process and of the server "
             "backend serving it, from `/proc`, are in the notes).")
    L.append("- **Throughput** (changes/s, acks/s): N first-seen SKUs, so each entry is written "
             "with its pending job (about 150 bytes encoded). `stg_log_submit_batch` takes 1,000 "
             "changes per call, one database transaction each (the store's BEGIN, one fenced "
             "upsert per entry, COMMIT); `stg_log_pump(log, 1000)` acknowledges 1,000 due jobs "
             "per call, one transaction each (each ack rewrites its row; the submits before it "
             "are not timed). Anchor, the limit: the same encoded rows (same partition and epoch "
             "columns) as one multi-row `INSERT ... ON CONFLICT (integration, sku) DO UPDATE` of "
             "1,000 rows per transaction straight over libpq (entries as binary parameters, no "
             "lease check). The third row holds the library against the store's own statement "
             "run in a loop without it (one round trip per row, 1,000 per transaction). Ratio: "
             "rate of stockguard / rate of the anchor.")
    L.append("- **Takeover**: a process holds the lease of the partition (TTL as in the row, "
             "renewed just before) and a log of N entries, and is killed with SIGKILL (its "
             "connection drops without a release); a second store, connected already, polls "
             "`pg_store_acquire()` until it gets the lease (the expiry is judged by the "
             "database's clock), then opens its log (the load). Anchors: the TTL (the wait is "
             "by design) and a plain `SELECT` of the same rows for the load part. Ratio: time "
             "/ anchor.")
    L.append("- **Load**: `stg_log_open()` on the store over N entries (a server-side cursor, "
             "1,000 binary rows per `FETCH`, each row decoded with `stg_entry_decode()` and "
             "indexed). Anchor: a plain `SELECT integration, sku, entry` of the same rows over "
             "libpq (binary; libpq holds the whole result); the notes add the same cursor read "
             "without decoding. Peak RSS: growth of VmHWM during the open "
             "(`/proc/self/clear_refs` resets it first). Ratio: time or bytes / anchor.")
    L.append("")
    L.append("| figure | size | stockguard | anchor | ratio |")
    L.append("|---|---:|---:|---:|---:|")
    for r in rows:
        anchor = "—" if r.get("anchor") is None else "%s (%s)" % (
            fmt(r["anchor"], r["lib_unit"]), r.get("anchor_name") or "")
        ratio = "—" if r.get("ratio") is None else "%.2fx" % r["ratio"]
        L.append("| %s | %s | %s | %s | %s |" % (r["figure"][4:], size(r["size"]),
                                              fmt(r["lib"], r["lib_unit"]), anchor, ratio))
    L.append("")
    for r in rows:
        if r.get("note"):
            L.append("- %s, %s: %s" % (r["figure"][4:], size(r["size"]), r["note"]))
    L.append("")
    bench_section.write(doc, BEGIN, END, L, commands)
    print("bench-pg-section.py: wrote the PostgreSQL section of %s" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
