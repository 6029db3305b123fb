#!/usr/bin/env python3
"""The public headers stand alone, in C99 and in C++11.

usage:
  check_headers.py c   --include DIR --table DEF [--listed H...] -- CC [CC ARGS...]
  check_headers.py cxx --include DIR --table DEF --library LIB

c:   every header under DIR (found on disk, so new headers are covered) is
     compiled alone, included twice (its guard must hold), with
     -std=c99 -pedantic -Werror -Wall -Wextra -Wstrict-prototypes, and every
     object-like STG_ macro it defines is expanded there (an initialiser
     initialises its struct, anything else is evaluated), so a macro that
     needs another header fails; no struct member of a public header is an
     array sized by an enumerator (a *_COUNT that grows with the enum would
     move every later field); the
     umbrella stockguard.h includes every header of stockguard/; the --listed
     headers (include/meson.build's public_headers, i.e. what is installed)
     are exactly the headers on disk; every STG_*_INIT macro has a row in the
     versioned-struct table DEF.
cxx: the umbrella and every header compile as C++11 with -pedantic -Werror
     -Wall -Wextra; then a C++ program that takes the address of every
     STG_EXTERN function and initialises every struct of DEF with its _INIT
     macro links against LIB and runs (a header without extern "C" fails to
     link). The compiler is $CXX, else g++, else c++; none: exit 77 (skip).
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
C_FLAGS = ['-std=c99', '-pedantic', '-Werror', '-Wall', '-Wextra', '-Wstrict-prototypes']
CXX_FLAGS = ['-std=c++11', '-pedantic', '-Werror', '-Wall', '-Wextra']

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_symbols import header_decls  # noqa: E402


def headers_on_disk(include_dir):
    found = glob.glob(os.path.join(include_dir, '**', '*.h'), recursive=True)
    return sorted(os.path.relpath(h, include_dir).replace(os.sep, '/') for h in found)


def table_rows(path):
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.findall(r'STG_VERSIONED\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\)', text)


def object_macros(text):
    """(name, body) of every object-like STG_ macro defined in a header's text,
    continuation lines joined, comments removed. Attribute macros (the export
    macro) and empty ones are not expressions and are left out."""
    text = re.sub(r'\\\n', ' ', text)
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    found = []
    for name, body in re.findall(r'^\s*#\s*define\s+(STG_\w+)(?![\w(])[ \t]*(.*)$', text, flags=re.M):
        body = body.strip()
        if body and '__attribute__' not in body and '__declspec' not in body:
            found.append((name, body))
    return found


def macro_uses(text, init_types):
    """A function body that expands every object-like macro of a header."""
    lines = ['static void use_every_macro(void)', '{']
    for i, (name, body) in enumerate(object_macros(text)):
        if body.startswith('{'):
            lines.append('\t{ %s v%d = %s; (void)v%d; }' % (init_types.get(name, 'int'), i, name, i))
        else:
            lines.append('\t(void)(%s);' % name)
    lines += ['}', 'void (*use_every_macro_p)(void) = use_every_macro;', '']
    return '\n'.join(lines)


ENUM_SIZED = re.compile(r'^\s*[^#/*][^;]*\b\w+\s*\[\s*([A-Za-z_]\w*)\s*\]\s*;', re.M)


def enum_sized_arrays(text):
    """Struct members sized by an enumerator or a *_COUNT name."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    enumerators = set()
    for body in re.findall(r'\benum\b[^{;]*\{(.*?)\}', text, flags=re.S):
        enumerators.update(re.findall(r'\b([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)', body))
    return [m for m in ENUM_SIZED.findall(text) if m in enumerators or m.endswith('_COUNT')]


def compile_one(cmd, source, suffix, tmp, name, extra=(), after=()):
    """Compile source text; return None or the compiler's complaint."""
    src = os.path.join(tmp, name + suffix)
    with open(src, 'w') as f:
        f.write(source)
    full = list(cmd) + list(extra) + [src] + list(after)
    res = subprocess.run(full, capture_output=True, text=True, cwd=tmp)
    if res.returncode != 0:
        return '$ %s\n%s%s' % (' '.join(shlex.quote(a) for a in full), res.stdout, res.stderr)
    return None


def check_c(args, include_dir, headers):
    errors = []
    if not args.compiler:
        print('usage: the C compiler command follows --', file=sys.stderr)
        return 2
    init_types = dict((r[1], r[0]) for r in table_rows(args.table))
    expanded = 0
    with tempfile.TemporaryDirectory(prefix='stg-hdr-') as tmp:
        for i, h in enumerate(headers):
            text = open(os.path.join(include_dir, h)).read()
            expanded += len(object_macros(text))
            for m in enum_sized_arrays(text):
                errors.append('%s: a struct member is an array sized by %s; a new enumerator '
                              'would move every later field (give it a fixed capacity, '
                              'as stg_stats does)' % (h, m))
            src = ('/* %s alone, twice: it must compile by itself and keep its guard;\n'
                   ' * every macro it defines must expand here. */\n'
                   '#include <%s>\n#include <%s>\n' % (h, h, h)) + macro_uses(text, init_types)
            err = compile_one(args.compiler, src, '.c', tmp, 'alone%d' % i,
                              C_FLAGS + ['-I', include_dir, '-c', '-o', os.devnull])
            if err:
                errors.append('%s does not compile alone as C99:\n%s' % (h, err))

    umbrella = os.path.join(include_dir, 'stockguard.h')
    if not os.path.exists(umbrella):
        errors.append('the umbrella header stockguard.h is missing')
    else:
        included = set(re.findall(r'#\s*include\s*[<"]([^>"]+)[>"]', open(umbrella).read()))
        for h in headers:
            if h.startswith('stockguard/') and h not in included:
                errors.append('stockguard.h does not include %s' % h)

    if args.listed:
        listed = set(os.path.relpath(os.path.abspath(p), include_dir).replace(os.sep, '/')
                     for p in args.listed)
        for h in headers:
            if h not in listed:
                errors.append('%s is not in public_headers / install_headers() '
                              '(include/meson.build)' % h)
        for h in sorted(listed - set(headers)):
            errors.append('%s is listed in include/meson.build but does not exist' % h)

    rows = table_rows(args.table)
    in_table = set(r[1] for r in rows)
    macros = {}
    for h in headers:
        for m in re.findall(r'^\s*#\s*define\s+(STG_\w+_INIT)\b(?!\()',
                            open(os.path.join(include_dir, h)).read(), flags=re.M):
            macros[m] = h
    for m, h in sorted(macros.items()):
        if m not in in_table:
            base = m[:-len('_INIT')]
            errors.append('%s (%s) has no row in tests/abi/versioned_structs.def; add\n'
                          '    STG_VERSIONED(%s, %s, %s_init, %s_VERSION)'
                          % (m, h, base.lower(), m, base.lower(), base))
    for m in sorted(in_table - set(macros)):
        errors.append('tests/abi/versioned_structs.def has a row for %s, which no public '
                      'header defines' % m)

    return report(errors, '%d headers compile alone as C99 with their %d object-like macros '
                          'expanded; no enum-sized array; umbrella, install list and '
                          '_INIT table complete' % (len(headers), expanded))


def find_cxx():
    if os.environ.get('CXX'):
        cmd = shlex.split(os.environ['CXX'])
        if cmd and shutil.which(cmd[0]):
            return cmd
    for name in ('g++', 'c++', 'clang++'):
        if shutil.which(name):
            return [name]
    return None


def check_cxx(args, include_dir, headers):
    cxx = find_cxx()
    if not cxx:
        print('SKIP: no C++ compiler ($CXX, g++, c++); Debian: apt-get install g++')
        return SKIP
    if not args.library:
        print('usage: cxx needs --library', file=sys.stderr)
        return 2
    errors = []
    decls, errs = header_decls(include_dir)
    errors += errs
    rows = table_rows(args.table)
    with tempfile.TemporaryDirectory(prefix='stg-hdr-') as tmp:
        for i, h in enumerate(['stockguard.h'] + [h for h in headers if h != 'stockguard.h']):
            src = '#include <%s>\n#include <%s>\n' % (h, h)
            err = compile_one(cxx, src, '.cpp', tmp, 'alone%d' % i,
                              CXX_FLAGS + ['-I', include_dir, '-c', '-o', os.devnull])
            if err:
                errors.append('%s does not compile as C++11:\n%s' % (h, err))

        funcs = sorted(n for n, k in decls.items() if k == 'function')
        lines = ['// Every STG_EXTERN function must link from C++ (extern "C").']
        lines += ['#include <%s>' % h for h in headers]
        lines += ['#include <cstdio>', '',
                 'typedef void (*any_fn)(void);',
                 'static const any_fn functions[] = {']
        lines += ['    reinterpret_cast<any_fn>(&%s),' % f for f in funcs]
        lines += ['    0', '};', '', 'int main()', '{', '    unsigned int versions = 0;']
        for t, init, _fn, version in rows:
            lines.append('    { %s v = %s; versions += v.version == %s; }' % (t, init, version))
        lines += ['    int n = 0;',
                  '    for (const any_fn *f = functions; *f; f++)',
                  '        n++;',
                  '    std::printf("%%d functions, %%u of %d _INIT macros ok\\n", n, versions);'
                  % len(rows),
                  '    return versions == %du && n == %d ? 0 : 1;' % (len(rows), len(funcs)),
                  '}', '']
        exe = os.path.join(tmp, 'link_cxx')
        libdir = os.path.dirname(os.path.abspath(args.library))
        err = compile_one(cxx, '\n'.join(lines), '.cpp', tmp, 'link_cxx',
                          CXX_FLAGS + ['-I', include_dir, '-o', exe],
                          [os.path.abspath(args.library), '-Wl,-rpath,' + libdir])
        if err:
            errors.append('the C++ link program failed (a header without extern "C"?):\n' + err)
        else:
            run = subprocess.run([exe], capture_output=True, text=True)
            if run.returncode != 0:
                errors.append('the C++ link program failed: %s%s' % (run.stdout, run.stderr))
            else:
                print(run.stdout.strip())
    return report(errors, 'the headers compile as C++11 (%s) and every function links'
                  % ' '.join(cxx))


def report(errors, ok):
    if errors:
        print('FAIL: %d problem(s)' % len(errors))
        for e in errors:
            print('  ' + e.replace('\n', '\n    '))
        return 1
    print('OK: ' + ok)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('mode', choices=('c', 'cxx'))
    p.add_argument('--include', required=True)
    p.add_argument('--table', required=True)
    p.add_argument('--listed', nargs='*', default=[])
    p.add_argument('--library')
    argv = sys.argv[1:]
    compiler = []
    if '--' in argv:
        compiler = argv[argv.index('--') + 1:]
        argv = argv[:argv.index('--')]
    args = p.parse_args(argv)
    args.compiler = compiler
    include_dir = os.path.abspath(args.include)
    headers = headers_on_disk(include_dir)
    if not headers:
        print('FAIL: no header under %s' % include_dir)
        return 1
    if args.mode == 'c':
        return check_c(args, include_dir, headers)
    return check_cxx(args, include_dir, headers)


if __name__ == '__main__':
    sys.exit(main())
