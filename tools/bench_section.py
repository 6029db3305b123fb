"""Place a marked section in docs/benchmarks.md (used by bench-rate-section.py
and bench-pg-section.py).

place(doc, begin, end, section): the text between the two HTML comments
(markers included) is replaced by @section, which starts with @begin and
ends with @end; without them the section goes in before "## Commands", or
at the end of the file when there is none. The rest is kept as it was.

write(doc, begin, end, lines, commands): @lines (starting with @begin),
then the commands of the file @commands in a sh block and @end, placed.
"""
import os


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
