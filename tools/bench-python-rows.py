#!/usr/bin/env python3
"""Re-measure the Python rows of docs/benchmarks.md in place.

usage: bench-python-rows.py PYTHON_JSONL COMMANDS_TXT DOC

The rows are the ones tests/bench/bench_python.py emits (figures starting
with "Python "). Each replaces the line of the same figure and size in "All
results", the line of the same figure in "Summary" (its largest size), and
its line in "Notes per row"; a row with no line yet goes in after the last
Python line of its table. Every other line is kept: the C rows stay as the
full run measured them. A marked section says when and at which commit the
Python rows were measured, and by which commands. Called by
`tools/bench.sh --only-python`, which takes a minute or so where the full
run takes an hour.
"""
import datetime
import os
import subprocess
import sys

import bench_section

BEGIN = "<!-- bench_python: begin (tools/bench.sh --only-python rewrites this section) -->"
END = "<!-- bench_python: end -->"


def sections(lines):
    """Index ranges [start, end) of the '## ' and '### ' sections by title."""
    heads = [(i, l.lstrip("#").strip()) for i, l in enumerate(lines) if l.startswith("#")]
    out = {}
    for k, (i, title) in enumerate(heads):
        out.setdefault(title, (i + 1, heads[k + 1][0] if k + 1 < len(heads) else len(lines)))
    return out


def replace(lines, span, key, new):
    """Replace the line of span starting with key; else insert it after the
    last Python line of span."""
    last = None
    for i in range(*span):
        if lines[i].startswith(key):
            lines[i] = new
            return
        if lines[i].startswith(("| Python ", "- Python ")):
            last = i
    if last is None:
        raise SystemExit("bench-python-rows: no Python lines to place %r near" % key)
    lines.insert(last + 1, new)


def main():
    got = bench_section.rows_of_argv(__doc__, ("Python ",), "Python")
    if isinstance(got, int):
        return got
    rows, commands, doc = got
    lines = open(doc).read().split("\n")
    largest = {}
    for r in rows:
        if r["size"] >= largest.get(r["figure"], {"size": -1})["size"]:
            largest[r["figure"]] = r
    size = bench_section.size
    for title, todo in (("All results", [(r, "| %s | %s |" % (r["figure"], size(r["size"])))
                                         for r in rows]),
                        ("Summary (largest size of each figure)",
                         [(r, "| %s |" % r["figure"]) for r in largest.values()])):
        for r, key in todo:
            span = sections(lines).get(title)
            if span is None:
                raise SystemExit("bench-python-rows: %s has no section %r" % (doc, title))
            replace(lines, span, key, bench_section.row_line(r))
    for r in rows:
        if r.get("note"):
            key = "- %s, %s:" % (r["figure"], size(r["size"]))
            replace(lines, sections(lines)["Notes per row"], key, "%s %s" % (key, r["note"]))
    open(doc, "w").write("\n".join(lines))

    def git(*args):
        return subprocess.run(("git",) + args, capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--", "lib", "include", "bindings", "tests/bench")
    cpu = "?"
    for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if l.startswith("Model name:"):
            cpu = l.split(":", 1)[1].strip()
    figures = []
    for r in rows:
        if r["figure"] not in figures:
            figures.append(r["figure"])
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [BEGIN, "## Python rows re-measured", "",
            "These rows of the tables above were measured again, each beside its anchor "
            "in the same run, on %s at commit %s%s by `tools/bench.sh --only-python` (CPU: "
            "%s; load average %s before, %s after; Python %s): %s. Every other row is "
            "from the full run the machine table describes, which may have been another "
            "CPU: compare ratios, not times, across the two." % (
                when, git("rev-parse", "--short", "HEAD"),
                " with uncommitted changes" if dirty else "", cpu,
                os.environ.get("LOAD_BEFORE", "?"), os.environ.get("LOAD_AFTER", "?"),
                sys.version.split()[0], "; ".join("\"%s\"" % f for f in figures)), ""]
    bench_section.write(doc, BEGIN, END, text, commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
