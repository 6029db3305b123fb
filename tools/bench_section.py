"""Place a marked section in docs/benchmarks.md (used by bench-rate-section.py
and bench-pg-section.py).

place(doc, begin, end, section): the text between the two HTML comments
(markers included) is replaced by @section, which starts with @begin and
ends with @end; without them the section goes in before "## Commands", or
at the end of the file when there is none. The rest is kept as it was.

write(doc, begin, end, lines, commands): @lines (starting with @begin),
then the commands of the file @commands in a sh block and @end, placed.

fmt(), size(), met(), row_line(): a row of the benchmark tables as
tools/bench.sh writes it (also used by bench-python-rows.py, which
replaces rows in place). rows_of_argv(): the RESULTS COMMANDS DOC arguments
of the section scripts and the rows of RESULTS whose figures start with
one of @prefixes.
"""
import json
import os
import sys


def fmt(v, unit=""):
    if v is None:
        return "—"
    if unit == "jobs/s":
        return "%.2fM jobs/s" % (v / 1e6)
    if unit == "s":
        return "%.3f s" % v
    if abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    else:
        s = "%.2f" % v
    return s + (" " + unit if unit else "")


def size(n):
    return "%gM" % (n / 1e6) if n >= 1e6 else "%gk" % (n / 1e3) if n >= 1e3 else str(n)


def met(v):
    return "—" if v is None else "yes" if v else "**no**"


def row_line(r):
    """| figure | size | stockguard | anchor | ratio | target | met? |"""
    anchor = "—"
    if r.get("anchor") is not None:
        anchor = "%s (%s)" % (fmt(r["anchor"], r["lib_unit"]), r.get("anchor_name") or "")
    ratio = "—"
    if r.get("ratio") is not None:
        ratio = "%.2fx" % r["ratio"] if r["ratio"] < 100 else "%.0fx" % r["ratio"]
    return "| %s | %s | %s | %s | %s | %s | %s |" % (
        r["figure"], size(r["size"]), fmt(r["lib"], r["lib_unit"]), anchor, ratio,
        r.get("target") or "", met(r.get("met")))


def rows_of_argv(usage, prefixes, what):
    """(rows, commands, doc) from sys.argv, or an exit status: 2 for a bad
    command line (@usage printed), 1 when RESULTS has no rows of @what."""
    if len(sys.argv) != 4:
        print(usage, file=sys.stderr)
        return 2
    results, commands, doc = sys.argv[1:]
    rows = [json.loads(l) for l in open(results) if l.strip()]
    rows = [r for r in rows if r["figure"].startswith(prefixes)]
    if not rows:
        print("%s: no %s rows in %s" % (os.path.basename(sys.argv[0]), what, results),
              file=sys.stderr)
        return 1
    return rows, commands, doc


def place(doc, begin, end, section):
    text = open(doc).read() if os.path.exists(doc) else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    elif "\n## Commands" in text:
        head, tail = text.split("\n## Commands", 1)
        text = head + "\n" + section + "\n\n## Commands" + tail
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + section + "\n"
    open(doc, "w").write(text)


def write(doc, begin, end, lines, commands):
    lines = list(lines) + ["```sh"]
    for line in open(commands):
        lines.append(line.rstrip().replace(os.getcwd() + "/", ""))
    lines += ["```", end]
    place(doc, begin, end, "\n".join(lines))
