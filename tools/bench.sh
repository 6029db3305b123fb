#!/usr/bin/env bash
# Run every benchmark of tests/bench and write docs/benchmarks.md.
#
#   tools/bench.sh            the full table, 10k to 10M (long: an hour or more,
#                             ~10 GiB of memory at 10M)
#   tools/bench.sh --quick    small sizes, few repetitions, written to
#                             build-bench/benchmarks-quick.md (a smoke run)
#   tools/bench.sh --out F    write the Markdown to F instead
#   tools/bench.sh --durable  only the durable benchmark (the SQLite store on
#                             disk, a few minutes): replaces the "Durable
#                             storage" section of the Markdown file (added at
#                             the end when it has none), the rest is kept
#   tools/bench.sh --only-rate  only the rate-limit benchmark (bench_rate:
#                             counts on a simulated clock, seconds): rewrites
#                             its section of the Markdown, the rest is kept
#   tools/bench.sh --only-python  only the Python rows (bench_python.py, a
#                             minute or less): replaces those rows of the
#                             tables and their notes, adds a section saying
#                             which, when, at which commit and on which CPU
#                             (tools/bench-python-rows.py); the rest is kept.
#                             STG_BENCH_PY_SIZES=none: the Log rows only
#   tools/bench.sh --pg       only the PostgreSQL benchmark (bench_pg, about
#                             two minutes; needs libpq-dev and the server):
#                             a server of its own with fsync on and its data
#                             in build-bench/tests/bench, started by
#                             tests/postgres/pg_harness.py --durable; rewrites
#                             the "PostgreSQL" section of the Markdown, the
#                             rest is kept (a full run keeps that section)
#
# Steps: a release build in build-bench (meson setup -Dbuildtype=release),
# `meson test --benchmark` for each benchmark with its sizes in the
# STG_BENCH_* environment (any of them already set is kept), callgrind
# instruction counts (the repeatable figures; the machine is shared and
# noisy), callgrind profiles of submit, pump and reopen, then the Markdown.
# Needs: meson, ninja, a C compiler, libsqlite3-dev, valgrind, python3; --pg
# also libpq-dev and the PostgreSQL server (tools/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
durable_only=0
only_rate=0
pg_only=0
py_only=0
out=docs/benchmarks.md
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; out=build-bench/benchmarks-quick.md ;;
	--durable) durable_only=1 ;;
	--only-rate) only_rate=1 ;;
	--pg) pg_only=1 ;;
	--only-python) py_only=1 ;;
	--out) out="$2"; shift ;;
	--out=*) out="${1#--out=}" ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

if ! grep -q "subdir('bench')" tests/meson.build; then
	echo "bench.sh: tests/meson.build has no subdir('bench'); add it first" >&2
	exit 2
fi
for tool in meson ninja valgrind callgrind_annotate python3; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing" >&2; exit 2; }
done

bd=build-bench
res=$bd/bench-results
mkdir -p "$res"
: > "$res/durable-commands.txt"
: > "$res/durable.jsonl"
if [ $durable_only = 0 ] && [ $pg_only = 0 ] && [ $py_only = 0 ]; then
	: > "$res/commands.txt"
	: > "$res/results.jsonl"
	rm -f "$res"/*.cg "$res"/*.log
fi

# Log a command in the list the report shows, echo it on the script's own
# stderr (fd 3, so a redirection of the command does not swallow it), run it.
exec 3>&2
cmds=$res/commands.txt
[ $durable_only = 1 ] && cmds=$res/durable-commands.txt
if [ $pg_only = 1 ]; then cmds=$res/pg-commands.txt; : > "$cmds"; fi
if [ $py_only = 1 ]; then cmds=$res/py-commands.txt; : > "$cmds"; fi
run() {
	printf '%s\n' "$*" >> "$cmds"
	echo "+ $*" >&3
	"$@"
}
# Same, with an environment shown in front of the command.
run_env() {
	local envs=()
	while [ $# -gt 0 ] && [[ "$1" == *=* ]]; do envs+=("$1"); shift; done
	printf '%s\n' "${envs[*]} $*" >> "$cmds"
	echo "+ ${envs[*]} $*" >&3
	env "${envs[@]}" "$@"
}

if [ $quick = 1 ]; then
	: "${STG_BENCH_FILTER_SIZES:=10k,100k}"
	: "${STG_BENCH_LOG_SIZES:=10k,100k}"
	: "${STG_BENCH_PY_SIZES:=10k,100k}"
	: "${STG_BENCH_PY_SINGLE_MAX:=100k}"
	: "${STG_BENCH_REPS:=3}"
	: "${STG_BENCH_FILTER_REPS:=5}"
	: "${STG_BENCH_REPS_LARGE:=3}"
else
	: "${STG_BENCH_FILTER_SIZES:=10k,100k,1M,10M}"
	: "${STG_BENCH_LOG_SIZES:=10k,100k,1M,10M}"
	: "${STG_BENCH_PY_SIZES:=10k,100k,1M,10M}"
	: "${STG_BENCH_PY_SINGLE_MAX:=1M}"
	: "${STG_BENCH_REPS:=5}"
	: "${STG_BENCH_FILTER_REPS:=11}"
	: "${STG_BENCH_REPS_LARGE:=3}"
fi
# Durable: 10k changes (the issue's size), 9 repetitions (1 in a quick run): the
# shared disk's fsync time varies several-fold from one minute to the next.
: "${STG_BENCH_DURABLE_SIZES:=10k}"
if [ $quick = 1 ]; then : "${STG_BENCH_DURABLE_REPS:=1}"; else : "${STG_BENCH_DURABLE_REPS:=9}"; fi
# PostgreSQL (--pg): 10k changes for the throughputs, a takeover of 100k
# entries with a lease TTL of 2 s, a load of 1M entries; 5 repetitions.
if [ $quick = 1 ]; then
	: "${STG_BENCH_PG_SIZES:=2k}" "${STG_BENCH_PG_TAKEOVER:=10k}" "${STG_BENCH_PG_LOAD:=10k}"
	: "${STG_BENCH_PG_REPS:=3}"
else
	: "${STG_BENCH_PG_SIZES:=10k}" "${STG_BENCH_PG_TAKEOVER:=100k}" "${STG_BENCH_PG_LOAD:=1M}"
	: "${STG_BENCH_PG_REPS:=5}"
fi
: "${STG_BENCH_PG_TTL_MS:=2000}"
cg_size=100000

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# ------------------------------------------------------------------ build
if [ -f "$bd/build.ninja" ]; then
	run meson setup --reconfigure "$bd" -Dbuildtype=release > "$res/setup.log"
else
	run meson setup "$bd" -Dbuildtype=release > "$res/setup.log"
fi
# Only what the benchmarks need (meson test below runs with --no-rebuild).
if [ $only_rate = 1 ]; then
	run meson compile -C "$bd" bench_rate > "$res/build.log"
elif [ $durable_only = 1 ]; then
	run meson compile -C "$bd" bench_durable > "$res/build.log"
elif [ $py_only = 1 ]; then
	run meson compile -C "$bd" stockguard:shared_library > "$res/build.log"
elif [ $pg_only = 1 ]; then
	if ! grep -q 'tests/bench/bench_pg' "$bd/build.ninja"; then
		echo "bench.sh: bench_pg is not built: libpq was not found (libpq-dev; see tools/install-deps.sh)" >&2
		exit 2
	fi
	run meson compile -C "$bd" bench_pg > "$res/build.log"
else
	run meson compile -C "$bd" bench_filter bench_log bench_durable bench_rate \
		stockguard:shared_library examples/stockguard-replay > "$res/build.log"
fi

# Rate limits (tests/bench/bench_rate.c): counts on a simulated clock, so
# machine-independent and seconds to run; their own rows and their own
# section of the report (tools/bench-rate-section.py), also with --only-rate.
: "${STG_BENCH_RATE_SIZES:=10,100,1000}"
run_rate() {
	: > "$res/rate.jsonl"
	printf '%s\n' "STG_BENCH_OUT=$res/rate.jsonl STG_BENCH_RATE_SIZES=$STG_BENCH_RATE_SIZES meson test -C $bd --no-rebuild --benchmark --suite bench rate --verbose" \
		> "$res/rate-commands.txt"
	echo "+ meson test -C $bd --no-rebuild --benchmark --suite bench rate" >&3
	STG_BENCH_OUT="$root/$res/rate.jsonl" STG_BENCH_RATE_SIZES="$STG_BENCH_RATE_SIZES" \
		meson test -C "$bd" --no-rebuild --benchmark --suite bench rate --verbose \
		> "$res/rate.log" 2>&1 || { cat "$res/rate.log"; exit 1; }
}
rate_section() {
	python3 tools/bench-rate-section.py "$res/rate.jsonl" "$res/rate-commands.txt" "$out"
}
if [ $only_rate = 1 ]; then
	run_rate
	rate_section
	exit 0
fi

# PostgreSQL (tests/bench/bench_pg.c): its own rows, its own section
# (tools/bench-pg-section.py), only with --pg. The harness starts the server
# as `nobody` with its data directory under $bd/tests/bench (on a disk, fsync
# on) and its socket in a folder under /tmp, and removes both at the end.
run_pg() {
	local bindir
	bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
	: > "$res/pg.jsonl"
	run_env STG_BENCH_OUT="$root/$res/pg.jsonl" STG_BENCH_PG_SIZES="$STG_BENCH_PG_SIZES" \
		STG_BENCH_PG_TAKEOVER="$STG_BENCH_PG_TAKEOVER" STG_BENCH_PG_LOAD="$STG_BENCH_PG_LOAD" \
		STG_BENCH_PG_TTL_MS="$STG_BENCH_PG_TTL_MS" STG_BENCH_REPS="$STG_BENCH_PG_REPS" \
		python3 tests/postgres/pg_harness.py --durable "$bd/tests/bench" "$bindir" \
		"$bd/tests/bench/bench_pg" > "$res/pg.log" 2>&1 || { cat "$res/pg.log"; exit 1; }
}
if [ $pg_only = 1 ]; then
	run_pg
	STARTED="$started" FINISHED="$(date -u '+%Y-%m-%d %H:%M:%S UTC')" LOAD_BEFORE="$load_before" \
	LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)" \
		python3 tools/bench-pg-section.py "$res/pg.jsonl" "$res/pg.log" "$res/pg-commands.txt" "$out"
	exit 0
fi

# Python alone (--only-python): the sizes of the full table's Python rows,
# its rows replaced in place (tools/bench-python-rows.py).
if [ $py_only = 1 ]; then
	: > "$res/python.jsonl"
	run_env STG_BENCH_OUT="$root/$res/python.jsonl" STG_BENCH_PY_SIZES="$STG_BENCH_PY_SIZES" \
		STG_BENCH_PY_SINGLE_MAX="$STG_BENCH_PY_SINGLE_MAX" STG_BENCH_REPS="$STG_BENCH_REPS" \
		meson test -C "$bd" --no-rebuild --benchmark --suite bench python --verbose \
		> "$res/python.log" 2>&1 || { cat "$res/python.log"; exit 1; }
	LOAD_BEFORE="$load_before" LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)" \
		python3 tools/bench-python-rows.py "$res/python.jsonl" "$cmds" "$out"
	exit 0
fi

# The durable benchmark writes its own rows (their own section of the report):
# its database file is in $bd/tests/bench, on a disk (it refuses tmpfs).
durable_jsonl=$root/$res/durable.jsonl
run_durable() {
	run_env STG_BENCH_OUT="$durable_jsonl" STG_BENCH_DURABLE_SIZES="$STG_BENCH_DURABLE_SIZES" \
		STG_BENCH_REPS="$STG_BENCH_DURABLE_REPS" \
		meson test -C "$bd" --no-rebuild --benchmark --suite bench durable --verbose \
		> "$res/durable.log" 2>&1 || { cat "$res/durable.log"; exit 1; }
}

# --------------------------------------------------------------- timings
if [ $durable_only = 1 ]; then
	run_durable
else
out_jsonl=$root/$res/results.jsonl
run_env STG_BENCH_OUT="$out_jsonl" STG_BENCH_FILTER_SIZES="$STG_BENCH_FILTER_SIZES" \
	STG_BENCH_REPS="$STG_BENCH_FILTER_REPS" STG_BENCH_REPS_LARGE="$STG_BENCH_FILTER_REPS" \
	meson test -C "$bd" --no-rebuild --benchmark --suite bench filter --verbose \
	> "$res/filter.log" 2>&1 || { cat "$res/filter.log"; exit 1; }
run_env STG_BENCH_OUT="$out_jsonl" STG_BENCH_PY_SIZES="$STG_BENCH_PY_SIZES" \
	STG_BENCH_PY_SINGLE_MAX="$STG_BENCH_PY_SINGLE_MAX" STG_BENCH_REPS="$STG_BENCH_REPS" \
	meson test -C "$bd" --no-rebuild --benchmark --suite bench python --verbose \
	> "$res/python.log" 2>&1 || { cat "$res/python.log"; exit 1; }
run_env STG_BENCH_OUT="$out_jsonl" STG_BENCH_LOG_SIZES="$STG_BENCH_LOG_SIZES" \
	STG_BENCH_REPS="$STG_BENCH_REPS" STG_BENCH_REPS_LARGE="$STG_BENCH_REPS_LARGE" \
	meson test -C "$bd" --no-rebuild --benchmark --suite bench log --verbose \
	> "$res/log.log" 2>&1 || { cat "$res/log.log"; exit 1; }
# The replay tool as a whole process, against wc -l (tests/bench/bench_replay.py).
run meson test -C "$bd" --no-rebuild --benchmark --suite bench replay --verbose \
	> "$res/replay.log" 2>&1 || { cat "$res/replay.log"; exit 1; }

# ------------------------------------------------------------- callgrind
# Instruction counts of one function (--toggle-collect) at $cg_size items.
cg() {
	local name=$1 fn=$2; shift 2
	run valgrind --tool=callgrind --callgrind-out-file="$res/$name.cg" \
		--toggle-collect="$fn" "$@" > "$res/$name.cg.log" 2>&1
}
fb=$bd/tests/bench/bench_filter
lb=$bd/tests/bench/bench_log
cg percall kernel_percall "$fb" --only=percall --sizes=$cg_size
cg batch kernel_batch "$fb" --only=batch --sizes=$cg_size
cg loop kernel_loop "$fb" --only=loop --sizes=$cg_size
cg submit lib_submit_passes "$lb" --only=submit-lib --sizes=$cg_size
cg pump lib_pump "$lb" --only=pump-lib --sizes=$cg_size
cg reopen lib_reopen "$lb" --only=reopen-lib --sizes=$cg_size
cg reopen_decode lib_reopen "$lb" --only=reopen-decode-lib --sizes=$cg_size
for n in percall batch loop submit pump reopen reopen_decode; do
	callgrind_annotate --threshold=99 "$res/$n.cg" > "$res/$n.annotate.txt" 2>/dev/null
done
run_durable
fi

finished=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - t_start ))

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$out")"
STARTED="$started" FINISHED="$finished" LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" \
ELAPSED="$elapsed" RES="$res" CG_SIZE="$cg_size" QUICK="$quick" DURABLE_ONLY="$durable_only" \
SIZES_INFO="filter $STG_BENCH_FILTER_SIZES (reps $STG_BENCH_FILTER_REPS); log $STG_BENCH_LOG_SIZES (reps $STG_BENCH_REPS, $STG_BENCH_REPS_LARGE at 10M); python $STG_BENCH_PY_SIZES (reps $STG_BENCH_REPS, single calls up to $STG_BENCH_PY_SINGLE_MAX)" \
python3 - "$out" <<'PYEOF'
import json, os, platform, re, subprocess, sys

out = sys.argv[1]
res = os.environ["RES"]
cg_size = int(os.environ["CG_SIZE"])


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""


def lscpu(key):
    for line in sh("lscpu").splitlines():
        if line.split(":")[0].strip() == key:
            return line.split(":", 1)[1].strip()
    return "?"


mem_kb = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])


sys.path.insert(0, "tools")
from bench_section import fmt, met, row_line, size  # noqa: E402


DUR_BEGIN = "<!-- tools/bench.sh: durable section begin -->"
DUR_END = "<!-- tools/bench.sh: durable section end -->"


def durable_section():
    """The rows of tests/bench/bench_durable.c, between markers that
    `tools/bench.sh --durable` finds again to replace them."""
    path = os.path.join(res, "durable.jsonl")
    drows = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    if not drows:
        return []
    setting = ""
    log = os.path.join(res, "durable.log")
    if os.path.exists(log):
        for l in open(log):
            if l.startswith("# durable:"):
                setting = l[len("# durable:"):].strip().replace(os.getcwd() + "/", "")
                break
    git = sh("git rev-parse --short HEAD 2>/dev/null")
    dirty = sh("git status --porcelain -- lib include examples/sqlite-store tests/bench 2>/dev/null")
    D = [DUR_BEGIN, "## Durable storage (the SQLite store on disk)", ""]
    D.append("Measured %s to %s at commit %s%s; load average %s before, %s after." % (
        os.environ["STARTED"], os.environ["FINISHED"], git or "?",
        " (**uncommitted changes in lib/, include/, examples/sqlite-store or tests/bench**)"
        if dirty else "", os.environ["LOAD_BEFORE"], os.environ["LOAD_AFTER"]))
    D.append("")
    D.append("- %s." % setting)
    D.append("- `tests/bench/bench_durable.c`: the log on `examples/sqlite-store` (storage "
             "version 2: the log's transactions), a fresh database file in the build folder "
             "per measurement (not tmpfs: the benchmark refuses it), N new SKUs (first seen, so "
             "each entry is written with its pending job). Anchors in the same run: raw SQLite "
             "(the store's table and `INSERT OR REPLACE`, the same encoded entry bytes, no "
             "library) and the version-1 path (the same store with begin/commit/rollback NULL: "
             "a commit per write). The paths that commit once per change run 1k changes.")
    D.append("- **Wall time** (the fsync waits are the cost here; the CPU time per item is in "
             "the notes), medians of interleaved repetitions, each in a fresh forked child. "
             "Ratio: rate of stockguard / rate of its anchor.")
    D.append("")
    D.append("| figure | size | stockguard | anchor | ratio | target | met? |")
    D.append("|---|---:|---:|---:|---:|---|---|")
    for r in drows:
        anchor = "—" if r.get("anchor") is None else "%s (%s)" % (
            fmt(r["anchor"], r["lib_unit"]), r.get("anchor_name") or "")
        ratio = "—" if r.get("ratio") is None else "%.2fx" % r["ratio"]
        D.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["figure"], size(r["size"]), fmt(r["lib"], r["lib_unit"]), anchor, ratio,
            r.get("target") or "", met(r.get("met"))))
    D.append("")
    for r in drows:
        if r.get("note"):
            D.append("- %s: %s" % (r["figure"], r["note"]))
    D.append("")
    D.append("```sh")
    cmds = os.path.join(res, "durable-commands.txt" if os.environ["DURABLE_ONLY"] == "1"
                        else "commands.txt")
    for line in open(cmds):
        if "durable" in line:
            D.append(line.rstrip().replace(os.getcwd() + "/", ""))
    D.append("```")
    D.append(DUR_END)
    return D


if os.environ["DURABLE_ONLY"] == "1":
    # Replace the section in the report as it is, or add it at the end.
    text = open(out).read() if os.path.exists(out) else "# stockguard benchmarks\n"
    sec = "\n".join(durable_section())
    if DUR_BEGIN in text and DUR_END in text:
        a = text.index(DUR_BEGIN)
        b = text.index(DUR_END) + len(DUR_END)
        text = text[:a] + sec + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + sec + "\n"
    open(out, "w").write(text)
    print("bench.sh: wrote the durable section of %s" % out)
    sys.exit(0)


# callgrind totals and top functions
def cg_total(name):
    path = os.path.join(res, name + ".cg")
    tot = None
    try:
        for line in open(path):
            if line.startswith("totals:") or line.startswith("summary:"):
                tot = int(line.split()[1])
    except OSError:
        return None
    return tot


def cg_top(name, k=10):
    path = os.path.join(res, name + ".annotate.txt")
    out_rows, on = [], False
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return []
    for line in lines:
        if "file:function" in line:
            on = True
            continue
        if not on:
            continue
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*?):(\S+)\s*(\[(.*)\])?", line)
        if m:
            obj = os.path.basename(m.group(6) or "")
            out_rows.append((int(m.group(1).replace(",", "")), float(m.group(2)), m.group(4), obj))
        if len(out_rows) >= k:
            break
    return out_rows


rows = [json.loads(l) for l in open(os.path.join(res, "results.jsonl")) if l.strip()]
L = []
w = L.append
w("# stockguard benchmarks")
w("")
w("Generated by `tools/bench.sh`%s on %s (finished %s, %s min). Do not edit by hand: "
  "re-run the script." % (" --quick" if os.environ["QUICK"] == "1" else "",
                          os.environ["STARTED"], os.environ["FINISHED"],
                          int(os.environ["ELAPSED"]) // 60))
w("")
w("## Machine")
w("")
git = sh("git rev-parse --short HEAD 2>/dev/null")
dirty = sh("git status --porcelain -- lib include 2>/dev/null")
source = os.environ.get("STG_BENCH_SOURCE") or (
    "commit %s%s" % (git, "; **lib/ or include/ differ from it** (uncommitted changes were "
                     "measured)" if dirty else ", lib/ and include/ clean") if git else "not a git tree")
w("| | |")
w("|---|---|")
w("| CPU | %s (%s CPUs, %s thread(s) per core, hypervisor %s) |" % (
    lscpu("Model name"), lscpu("CPU(s)"), lscpu("Thread(s) per core"),
    lscpu("Hypervisor vendor")))
w("| memory | %.1f GiB |" % (mem_kb / 1048576))
w("| OS | %s, kernel %s |" % (sh(". /etc/os-release; echo $PRETTY_NAME"), platform.release()))
w("| compiler | %s, `-Dbuildtype=release` (-O3), same flags for the library, the benchmarks "
  "and the inline loop |" % sh("cc --version | head -1"))
w("| SQLite | %s (libsqlite3-dev, `dependency('sqlite3')`) |" % sh("pkg-config --modversion sqlite3"))
w("| Python | %s |" % platform.python_version())
w("| valgrind | %s |" % sh("valgrind --version"))
w("| source | %s |" % source)
w("| load average | %s before, %s after (the machine is shared) |" % (
    os.environ["LOAD_BEFORE"], os.environ["LOAD_AFTER"]))
w("| sizes | %s |" % os.environ["SIZES_INFO"])
w("")
w("## How it is measured")
w("")
w("- Every figure is measured **in the same run, side by side with its anchor**, in "
  "interleaved repetitions (the order rotates each repetition); the table shows **medians**.")
w("- Times are **CPU time of the process** (`CLOCK_PROCESS_CPUTIME_ID`, Python "
  "`time.process_time()`), because the machine is shared: waiting for a CPU is left out, "
  "cache interference is not. Only the thread figure uses wall time. The repeatable "
  "figures are the callgrind instruction counts below.")
w("- evaluate+filter: cutoff mode, minimum 3, window 5, no overrides; from/to arrays of "
  "low and high stock, 1% oversold. The inline loop writes the same four outputs "
  "(decision, reason, published, warning); checksums of all kernels must agree (printed). "
  "The minimum and window are read through `volatile` so the loop is not specialised. "
  "Small sizes repeat the kernel to at least 4M changes per sample.")
w("- Log: one integration, SKUs `SKU-%08d` (12 characters) in random order; each SKU gets a "
  "first change (first seen: export, a pending job) then a second change in another random "
  "order (coalesced into the waiting job): 2N submits. Default in-memory store, system clock. "
  "Each repetition runs in a fresh forked child.")
w("- SQLite anchor: `:memory:` database, table `log(integration TEXT, sku TEXT, status, "
  "available, published, sequence, changed_at, job_id, PRIMARY KEY(integration, sku)) "
  "WITHOUT ROWID` (`STG_BENCH_SQLITE_ROWID=1` for a rowid table), one prepared `INSERT ... "
  "ON CONFLICT(integration, sku) DO UPDATE ... WHERE excluded.sequence > log.sequence`, "
  "one transaction per 10k changes, published quantity computed inline in C. It does less "
  "than the library (no filter, no job queue, no priorities).")
w("- Memory: after N first changes (N entries, each with a pending job). Exact bytes through "
  "a counting `stg_allocator` hook (requested sizes, no malloc overhead); RSS delta with the "
  "default allocator in a fresh child; SQLite: `sqlite3_memory_used()` (memstatus on) and RSS "
  "delta for the same rows.")
w("- Pump: N due jobs (non-stock changes, so each is an export), a transport that "
  "acknowledges at once, `stg_log_pump(log, 0, ...)`; batch size 1 through `send()` and "
  "batch size 100 through `send_batch()`.")
w("- Reopen: `stg_log_open()` with a storage hook whose `load` streams N entries (99% "
  "success, 1% pending): built on the fly, or decoded from their encodings with "
  "`stg_entry_decode()` (a key-value store's case). The target is for 10M entries; smaller "
  "sizes are judged at the same rate.")
w("- Threads: the log has no lock (one thread per log at a time, logs independent), so the "
  "4-thread figure is 4 threads each with its own log, SKUs sharded by index, against one "
  "thread with one log, same 2N submits in total.")
w("- Python: %s." % ("the binding `bindings/python/stockguard` (`filter_batch`, "
  "`Policy.evaluate_batch`, `decide`) on `array('q')` buffers, plus ctypes straight onto the "
  "C ABI as a floor; the anchor is the same rule in pure Python, over the same arrays"))
w("")
# group the rows by figure (first appearance), then by size
order = {}
for r in rows:
    order.setdefault(r["figure"], len(order))
rows.sort(key=lambda r: (order[r["figure"]], r["size"]))
largest = {}
for r in rows:
    largest[r["figure"]] = r


def table(rs):
    w("| figure | size | stockguard | anchor | ratio | target | met? |")
    w("|---|---:|---:|---:|---:|---|---|")
    for r in rs:
        line(r)


def line(r):
    w(row_line(r))


w("## Summary (largest size of each figure)")
w("")
table(list(largest.values()))
w("")
w("## All results")
w("")
table(rows)
w("")
w("Ratios: time ratios are stockguard / anchor for the C loop (lower is better) and "
  "anchor / stockguard for SQLite and Python (a speedup, higher is better); memory is "
  "stockguard / SQLite bytes; threads is the speedup over one thread.")
w("")
w("### Notes per row")
w("")
for r in rows:
    if r.get("note"):
        w("- %s, %s: %s" % (r["figure"], size(r["size"]), r["note"]))
w("")

w("## Callgrind instruction counts (repeatable)")
w("")
w("`valgrind --tool=callgrind --toggle-collect=<kernel>` at %s items, counting only the "
  "kernel (data set-up excluded). Release build." % size(cg_size))
w("")
w("| kernel | instructions | per item | vs inline loop |")
w("|---|---:|---:|---:|")
loop = cg_total("loop")
for name, label, per in [("loop", "inline C loop (anchor)", cg_size),
                         ("percall", "stg_filter_decide, one change per call", cg_size),
                         ("batch", "stg_filter_batch", cg_size),
                         ("submit", "stg_log_submit, 2N submits (N new + N coalesced)", 2 * cg_size),
                         ("pump", "stg_log_pump, N jobs, send() acks at once", cg_size),
                         ("reopen", "stg_log_open, N entries built on the fly", cg_size),
                         ("reopen_decode", "stg_log_open, N entries via stg_entry_decode", cg_size)]:
    t = cg_total(name)
    if t is None:
        continue
    vs = "%.2fx" % (t / loop) if loop and name in ("percall", "batch", "loop") else "—"
    w("| %s | %s | %.1f | %s |" % (label, format(t, ","), t / per, vs))
w("")
w("## Where the time goes (callgrind, self instructions)")
w("")
for name, label in [("percall", "evaluate+filter, one call per change"),
                    ("submit", "submit"), ("pump", "pump"),
                    ("reopen", "reopen (entries built on the fly)"),
                    ("reopen_decode", "reopen (stg_entry_decode)")]:
    top = cg_top(name, 8)
    if not top:
        continue
    w("**%s**" % label)
    w("")
    w("| function | object | share |")
    w("|---|---|---:|")
    for ir, pct, fn, obj in top:
        w("| `%s` | %s | %.1f%% |" % (fn, obj, pct))
    w("")

# The replay tool's table, as bench_replay.py printed it.
replay_log = os.path.join(res, "replay.log")
if os.path.exists(replay_log):
    rows = [l.rstrip() for l in open(replay_log) if l.startswith("|") or
            l.startswith("replay throughput")]
    if rows:
        w("## Replay throughput (`stockguard-replay`, whole process)")
        w("")
        w(rows[0])
        w("")
        for l in rows[1:]:
            w(l)
        w("")

for line in durable_section():
    w(line)
w("")
# The PostgreSQL section (tools/bench.sh --pg) is not measured here: keep it.
PG_BEGIN = "<!-- tools/bench.sh: pg section begin (tools/bench.sh --pg rewrites it) -->"
PG_END = "<!-- tools/bench.sh: pg section end -->"
old_text = open(out).read() if os.path.exists(out) else ""
if PG_BEGIN in old_text and PG_END in old_text:
    w(old_text[old_text.index(PG_BEGIN):old_text.index(PG_END) + len(PG_END)])
    w("")

w("## Commands")
w("")
w("Run from the repository root (`tools/bench.sh` runs exactly these):")
w("")
w("```sh")
for line in open(os.path.join(res, "commands.txt")):
    w(line.rstrip().replace(os.getcwd() + "/", ""))
w("```")
w("")
w("Each benchmark alone: `meson test -C build-bench --benchmark <filter|log|python> --verbose`, "
  "or the binaries with `--sizes=10k,1M --reps=N --only=<part>` "
  "(see the comment at the top of each file in `tests/bench/`).")
w("")
# The connector section (tests/bench/bench_connector.py --write) is not
# measured here: keep it as it was.
CON_BEGIN, CON_END = "<!-- bench_connector: begin -->", "<!-- bench_connector: end -->"
if CON_BEGIN in old_text and CON_END in old_text:
    L.append(old_text[old_text.index(CON_BEGIN):old_text.index(CON_END) + len(CON_END)])
    L.append("")
open(out, "w").write("\n".join(L))
print("bench.sh: wrote %s" % out)
PYEOF
# The rate-limit section, after the report (its markers keep it in place).
if [ $durable_only = 0 ]; then
	run_rate
	rate_section
fi
