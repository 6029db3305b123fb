#!/usr/bin/env python3
"""Replay throughput: stockguard-replay on a generated feed, against `wc -l`.

    bench_replay.py --bin build/examples/stockguard-replay --gen examples/gen-feed.py \
        --dir build/tests/bench [--rows 1000000] [--reps 5]

Writes the feed (examples/gen-feed.py, seed 7) under --dir, then runs, in
turn and --reps times each (A B C A B C ...), every command of the table
below with its output thrown away, and prints the median wall and CPU time
(user + sys of the child, from getrusage), rows/s, and each command's
median ratio to `wc -l` on the same file (the floor: reading the bytes and
nothing else), ratios taken pair by pair within a repetition so a drift of
the machine's speed cancels out.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rows", type=int, default=int(os.environ.get("STG_BENCH_REPLAY_ROWS",
                                                                   "1000000")))
    ap.add_argument("--reps", type=int, default=int(os.environ.get("STG_BENCH_REPLAY_REPS", "5")))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    feed = os.path.join(a.dir, "replay-feed-%d.csv" % a.rows)
    report = os.path.join(a.dir, "replay-report.html")
    if not os.path.exists(feed):
        subprocess.run([sys.executable, a.gen, "--rows", str(a.rows), "--seed", "7", "-o", feed],
                       check=True)
    commands = [
        ("wc -l (floor)", ["wc", "-l", feed]),
        ("replay", [a.bin, "--min-stock", "3", feed]),
        ("replay --report", [a.bin, "--min-stock", "3", "--report", report, feed]),
        ("replay --report --rate 2/s --latency 300 (two runs: the filter-off comparison)",
         [a.bin, "--min-stock", "3", "--report", report, "--rate", "2/s", "--latency", "300",
          feed]),
    ]
    for _, cmd in commands:  # warm-up: the file in the page cache
        run_once(cmd)
    walls = [[] for _ in commands]
    cpus = [[] for _ in commands]
    for _ in range(a.reps):
        for i, (_, cmd) in enumerate(commands):
            w, c = run_once(cmd)
            walls[i].append(w)
            cpus[i].append(c)
    print("replay throughput, %d rows (%s), %d repetitions, medians" % (a.rows, feed, a.reps))
    print("| command | wall s | cpu s | rows/s (wall) | wall / wc -l |")
    print("|---|---:|---:|---:|---:|")
    for i, (name, _) in enumerate(commands):
        w = statistics.median(walls[i])
        ratio = statistics.median(x / y for x, y in zip(walls[i], walls[0]))
        print("| %s | %.3f | %.3f | %.0f | %.1fx |" % (name, w, statistics.median(cpus[i]),
                                                      a.rows / w, ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
