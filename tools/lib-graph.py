#!/usr/bin/env python3
"""Which object of lib/ calls which, from `nm` of the built objects, and the
limits the library's layout keeps.

    tools/lib-graph.py BUILD_DIR            print the graph; exit 1 on a circle
    tools/lib-graph.py BUILD_DIR --check    the same, plus the size limits:
                                            no lib/*.c over 600 lines (generated
                                            tables aside), no function over 80
                                            lines, no internal header over 200
                                            lines seen (included, also through
                                            another header) by more than 4
                                            .c files

An arrow a -> b means a.o has an undefined symbol that b.o defines. Static
inline functions of internal headers do not appear: they are compiled into
each object that uses them, so a header of accessors ties nobody in a circle
of calls (but is counted by the header limit).
"""
import glob
import os
import re
import subprocess
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib')
MAX_FILE, MAX_FUNC, MAX_HEADER, MAX_HEADER_USERS = 600, 80, 200, 4
GENERATED = {'crc32_tables.h'}


def objects(build):
    objs = {}
    for o in glob.glob(os.path.join(build, 'lib', '*.p', '*.c.o')):
        name = os.path.basename(o)[:-len('.c.o')]
        objs.setdefault(name, o)  # shared and static objects hold the same code
    return objs


def symbols(path):
    out = subprocess.run(['nm', '--defined-only', '-g', path], capture_output=True,
                         text=True, check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3}
    out = subprocess.run(['nm', '-u', path], capture_output=True, text=True, check=True).stdout
    undefined = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defined, undefined


def graph(build):
    objs = objects(build)
    if not objs:
        sys.exit('lib-graph: no objects under %s/lib (build first)' % build)
    syms = {n: symbols(p) for n, p in objs.items()}
    owner = {}
    for n, (d, _) in syms.items():
        for s in d:
            owner[s] = n
    edges = {n: sorted({owner[s] for s in u if s in owner and owner[s] != n})
             for n, (_, u) in syms.items()}
    return edges


def circles(edges):
    """Strongly connected components of more than one object (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def long_functions(path):
    """(name, lines) of every function definition longer than MAX_FUNC:
    from the line that opens its body at column 0 to the closing brace."""
    lines = open(path).read().split('\n')
    found, start, name = [], None, None
    for i, line in enumerate(lines):
        if line == '{' and i > 0:
            start = i
            m = None
            for j in range(i - 1, max(i - 6, -1), -1):
                m = re.search(r'(\w+)\s*\(', lines[j])
                if m:
                    break
            name = m.group(1) if m else '?'
        elif line == '}' and start is not None:
            n = i - start + 1
            if n > MAX_FUNC:
                found.append((name, n))
            start = None
    return found


def limits():
    problems = []
    for c in sorted(glob.glob(os.path.join(SRC, '*.c'))):
        n = sum(1 for _ in open(c))
        if n > MAX_FILE:
            problems.append('%s: %d lines (at most %d)' % (os.path.basename(c), n, MAX_FILE))
        for name, lines in long_functions(c):
            problems.append('%s: %s() is %d lines (at most %d)'
                            % (os.path.basename(c), name, lines, MAX_FUNC))
    # Who sees a header: the .c files that include it, directly or through
    # another internal header.
    direct = {os.path.basename(f): set(re.findall(r'^#include "(\w+\.h)"', open(f).read(), flags=re.M))
              for f in glob.glob(os.path.join(SRC, '*.[ch]'))}

    def seen_by(f, acc):
        for h in direct.get(f, ()):
            if h not in acc:
                acc.add(h)
                seen_by(h, acc)
        return acc

    users = {}
    for f in direct:
        if f.endswith('.c'):
            for h in seen_by(f, set()):
                users.setdefault(h, set()).add(f)
    for h in sorted(glob.glob(os.path.join(SRC, '*.h'))):
        base = os.path.basename(h)
        if base in GENERATED:
            continue
        n = sum(1 for _ in open(h))
        u = users.get(base, set())
        if n > MAX_HEADER and len(u) > MAX_HEADER_USERS:
            problems.append('%s: %d lines seen by %d files (%s): at most %d lines when more '
                            'than %d files include it'
                            % (base, n, len(u), ', '.join(sorted(u)), MAX_HEADER, MAX_HEADER_USERS))
    return problems


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    edges = graph(sys.argv[1])
    for n in sorted(edges):
        print('%-12s -> %s' % (n, ', '.join(edges[n]) or '(nothing)'))
    bad = ['circle: ' + ' <-> '.join(c) for c in circles(edges)]
    if '--check' in sys.argv[2:]:
        bad += limits()
    for b in bad:
        print('FAIL ' + b)
    print('%d objects, %d arrows, %d problem(s)'
          % (len(edges), sum(len(v) for v in edges.values()), len(bad)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
