#!/usr/bin/env python3
"""Documentation checks, run by `meson test --suite docs`.

usage:
  check_docs.py doxygen  DOXYFILE INCLUDE_DIR
  check_docs.py examples DOCS_DIR INCLUDE_DIR LIBRARY -- CC [CC ARGS...]

doxygen:  runs Doxygen with DOXYFILE into a temporary directory and fails on
          any warning (EXTRACT_ALL = NO and WARN_IF_UNDOCUMENTED = YES make an
          undocumented public symbol a warning). Doxygen says nothing about
          the functions of a header that has no file comment, so every header
          under INCLUDE_DIR must also have a `@file` comment. Exit 77 (skip)
          when doxygen is not installed.
examples: every ```c block of DOCS_DIR/*.md is compiled against the public
          headers. A block with a main() is linked against LIBRARY and run,
          and must exit 0; another block is compiled as it is (declarations)
          or, failing that, as the body of a function (statements).
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def check_doxygen(doxyfile, include_dir):
    errors = []
    for h in sorted(glob.glob(os.path.join(include_dir, '**', '*.h'), recursive=True)):
        if not re.search(r'[@\\]file\b', open(h).read()):
            errors.append('%s has no @file comment: Doxygen would silently skip its '
                          'undocumented functions' % os.path.relpath(h, include_dir))
    doxygen = shutil.which('doxygen')
    if not doxygen:
        for e in errors:
            print('FAIL: ' + e)
        if errors:
            return 1
        print('SKIP: doxygen not found (Debian: apt-get install doxygen)')
        return SKIP
    with tempfile.TemporaryDirectory(prefix='stg-docs-') as tmp:
        log = os.path.join(tmp, 'warnings.log')
        config = open(doxyfile).read() + (
            '\n# check_docs.py: into a temporary directory, every warning in a log\n'
            'OUTPUT_DIRECTORY = "%s"\nWARN_LOGFILE = "%s"\nWARN_AS_ERROR = NO\nQUIET = YES\n'
            % (tmp, log))
        run = subprocess.run([doxygen, '-'], input=config, capture_output=True, text=True)
        warnings = open(log).read().strip() if os.path.exists(log) else ''
        if run.returncode != 0:
            errors.append('doxygen exited %d:\n%s%s' % (run.returncode, run.stdout, run.stderr))
        if warnings:
            errors.append('doxygen warnings:\n' + warnings)
        if not os.path.exists(os.path.join(tmp, 'html', 'index.html')):
            errors.append('doxygen wrote no html/index.html')
    if errors:
        print('FAIL: %d problem(s)' % len(errors))
        for e in errors:
            print('  ' + e.replace('\n', '\n    '))
        return 1
    print('OK: doxygen ran without a warning')
    return 0


PRELUDE = '#include <stockguard.h>\n#include <stddef.h>\n#include <stdint.h>\n'
FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-UNDEBUG',
         '-Wno-unused-function', '-Wno-unused-variable']


def code_blocks(path):
    text = open(path).read()
    for m in re.finditer(r'^(```|~~~)[ \t]*\{?\.?c\}?[ \t]*\n(.*?)^\1[ \t]*$', text,
                         flags=re.S | re.M):
        line = text.count('\n', 0, m.start()) + 1
        yield line, m.group(2)


def run_cmd(cmd, cwd):
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return res.returncode, '$ %s\n%s%s' % (' '.join(shlex.quote(c) for c in cmd),
                                          res.stdout, res.stderr)


def check_examples(docs_dir, include_dir, library, cc):
    if not cc:
        print('usage: the C compiler command follows --', file=sys.stderr)
        return 2
    errors, count = [], 0
    libdir = os.path.dirname(os.path.abspath(library))
    with tempfile.TemporaryDirectory(prefix='stg-docs-') as tmp:
        for md in sorted(glob.glob(os.path.join(docs_dir, '*.md'))):
            for line, code in code_blocks(md):
                count += 1
                where = '%s:%d' % (os.path.basename(md), line)
                src = os.path.join(tmp, 'block%d.c' % count)
                if re.search(r'\bmain\s*\(', code):
                    with open(src, 'w') as f:
                        f.write('#line %d "%s"\n%s' % (line + 1, where.split(':')[0], code))
                    exe = os.path.join(tmp, 'block%d' % count)
                    rc, out = run_cmd(list(cc) + FLAGS + ['-I', include_dir, src, '-o', exe,
                                                          os.path.abspath(library),
                                                          '-Wl,-rpath,' + libdir], tmp)
                    if rc:
                        errors.append('%s does not compile:\n%s' % (where, out))
                        continue
                    rc, out = run_cmd([exe], tmp)
                    if rc:
                        errors.append('%s exited %d when run:\n%s' % (where, rc, out))
                    continue
                attempts = [PRELUDE + code,
                            PRELUDE + 'void doc_example(void);\nvoid doc_example(void)\n{\n'
                            + code + '\n}\n']
                outs = []
                for text in attempts:
                    with open(src, 'w') as f:
                        f.write(text)
                    rc, out = run_cmd(list(cc) + FLAGS + ['-I', include_dir, '-c', src,
                                                          '-o', os.devnull], tmp)
                    outs.append(out)
                    if rc == 0:
                        break
                else:
                    errors.append('%s does not compile, neither as declarations nor as '
                                  'statements:\n%s' % (where, outs[-1]))
    if errors:
        print('FAIL: %d of %d code blocks' % (len(errors), count))
        for e in errors:
            print('  ' + e.replace('\n', '\n    '))
        return 1
    print('OK: %d code blocks compile (and those with a main run)' % count)
    return 0


def main():
    argv = sys.argv[1:]
    cc = []
    if '--' in argv:
        cc = argv[argv.index('--') + 1:]
        argv = argv[:argv.index('--')]
    if len(argv) == 3 and argv[0] == 'doxygen':
        return check_doxygen(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == 'examples':
        return check_examples(argv[1], argv[2], argv[3], cc)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
