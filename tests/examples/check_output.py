#!/usr/bin/env python3
"""Run an example and compare its standard output with a golden file.

    check_output.py GOLDEN PROGRAM [ARG ...]

An ARG equal to @TMP@/NAME becomes NAME inside a fresh temporary directory
(removed afterwards), for examples that write files. The program must exit
with status 0 and print exactly the golden text.
"""
import difflib
import os
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    golden_path, prog, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if os.sep in prog:
        prog = os.path.abspath(prog)  # Meson passes built programs relative to the build dir
    args = [os.path.abspath(a) if os.sep in a and not a.startswith(('@TMP@', '-')) and os.path.exists(a)
            else a for a in args]
    with open(golden_path, encoding='utf-8') as f:
        golden = f.read()
    with tempfile.TemporaryDirectory(prefix='stg-example-') as tmp:
        args = [tmp + a[len('@TMP@'):] if a.startswith('@TMP@/') else a for a in args]
        proc = subprocess.run([prog] + args, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        print(f'{prog} exited with status {proc.returncode}', file=sys.stderr)
        print(proc.stderr, file=sys.stderr)
        return 1
    if proc.stdout != golden:
        sys.stderr.writelines(difflib.unified_diff(
            golden.splitlines(keepends=True), proc.stdout.splitlines(keepends=True),
            golden_path, 'output'))
        return 1
    print(f'{prog}: output matches {golden_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
