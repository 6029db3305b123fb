#!/usr/bin/env python3
"""Exported symbols, linker version script and public headers must agree.

usage: check_symbols.py LIBRARY MAPFILE INCLUDE_DIR

Checks, each failure named:
  - every dynamic symbol the library defines starts with `stg_` (the version
    node names themselves, e.g. STOCKGUARD_1.0, are fine);
  - every exported symbol is listed in the map file and carries, as its
    default version (name@@NODE), the node it is listed under;
  - every name the map file lists is exported; no name is listed twice; no
    wildcard in a global section;
  - the `STG_EXTERN` declarations of the public headers (include/**.h) are
    exactly the exported functions and variables;
  - the SONAME is libstockguard.so.<STG_VERSION_MAJOR>.
New headers, symbols and nodes are picked up without editing this script.
Exit 77 (skipped) when binutils' nm/readelf are missing.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
PREFIX = 'stg_'
NODE_RE = re.compile(r'^STOCKGUARD_\d+\.\d+$')
C_WORDS = {
    'void', 'char', 'short', 'int', 'long', 'float', 'double', 'signed', 'unsigned',
    'const', 'volatile', 'restrict', 'struct', 'union', 'enum', 'extern', 'static',
    'inline', '_Bool', 'bool', 'sizeof', '__attribute__',
}


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', text)


def parse_map(path):
    """Return ({name: node}, [node names], [errors])."""
    text = strip_comments(open(path).read())
    text = re.sub(r'#[^\n]*', ' ', text)
    names, nodes, errors = {}, [], []
    for m in re.finditer(r'([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;', text, flags=re.S):
        node, body = m.group(1), m.group(2)
        nodes.append(node)
        if not NODE_RE.match(node):
            errors.append('map: node %s is not named STOCKGUARD_<major>.<minor>' % node)
        section = 'global'
        for tok in re.findall(r'[^\s;]+:|[^\s;]+(?=\s*;)', body):
            if tok.endswith(':'):
                section = tok[:-1]
                continue
            if section != 'global':
                if tok != '*':
                    errors.append('map: node %s: local entry %r (only "*" expected)' % (node, tok))
                continue
            if not re.fullmatch(r'[A-Za-z_]\w*', tok):
                errors.append('map: node %s: %r is not a plain name (no wildcards in global:)'
                              % (node, tok))
                continue
            if tok in names:
                errors.append('map: %s is listed in %s and again in %s' % (tok, names[tok], node))
                continue
            names[tok] = node
    if not nodes:
        errors.append('map: no version node found in %s' % path)
    return names, nodes, errors


def exported(lib):
    """Return ({name: (type letter, version, default?)}, [errors])."""
    out = subprocess.run(['nm', '-D', '--defined-only', lib], capture_output=True, text=True,
                         check=True, env=dict(os.environ, LC_ALL='C')).stdout
    syms, errors = {}, []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, full = parts[-2], parts[-1]
        if '@@' in full:
            name, ver = full.split('@@', 1)
            default = True
        elif '@' in full:
            name, ver = full.split('@', 1)
            default = False
        else:
            name, ver, default = full, None, True
        if name in syms:
            errors.append('%s is exported twice (%s)' % (name, full))
        syms[name] = (kind, ver, default)
    return syms, errors


def header_decls(include_dir):
    """Return ({name: 'function'|'variable'}, [errors]) from STG_EXTERN declarations."""
    decls, errors = {}, []
    headers = sorted(glob.glob(os.path.join(include_dir, '**', '*.h'), recursive=True))
    for h in headers:
        text = strip_comments(open(h).read())
        text = re.sub(r'\\\n', ' ', text)
        text = re.sub(r'^\s*#[^\n]*', ' ', text, flags=re.M)
        rel = os.path.relpath(h, include_dir)
        for m in re.finditer(r'\bSTG_EXTERN\b([^;{]*)', text):
            decl = m.group(1)
            if '(' in decl:
                idents = [i for i in re.findall(r'\b([A-Za-z_]\w*)\s*\(', decl)
                          if i not in C_WORDS]
                kind = 'function'
            else:
                idents = re.findall(r'\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*$', decl.strip())
                kind = 'variable'
            if not idents:
                errors.append('%s: cannot read the name in "STG_EXTERN%s"' % (rel, decl.strip()))
                continue
            name = idents[0]
            if name in decls:
                errors.append('%s: %s is declared STG_EXTERN more than once' % (rel, name))
            decls[name] = kind
    if not headers:
        errors.append('no header found under %s' % include_dir)
    return decls, errors


def expected_soname(include_dir):
    text = open(os.path.join(include_dir, 'stockguard', 'version.h')).read()
    major = re.search(r'#define\s+STG_VERSION_MAJOR\s+(\d+)', text).group(1)
    return 'libstockguard.so.%s' % major


def soname(lib):
    out = subprocess.run(['readelf', '-d', lib], capture_output=True, text=True, check=True,
                         env=dict(os.environ, LC_ALL='C')).stdout
    m = re.search(r'\(SONAME\).*\[(.*)\]', out)
    return m.group(1) if m else None


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    lib, mapfile, include_dir = sys.argv[1:]
    for tool in ('nm', 'readelf'):
        if not shutil.which(tool):
            print('SKIP: %s not found (Debian: apt-get install binutils)' % tool)
            return SKIP

    mapped, nodes, errors = parse_map(mapfile)
    syms, errs = exported(lib)
    errors += errs
    decls, errs = header_decls(include_dir)
    errors += errs

    functions = set()
    variables = set()
    for name, (kind, ver, default) in sorted(syms.items()):
        if kind == 'A' and name in nodes:
            continue  # the symbol that names a version node
        if not name.startswith(PREFIX):
            errors.append('%s (nm type %s) is exported but lacks the %s prefix'
                          % (name, kind, PREFIX))
        if name not in mapped:
            errors.append('%s is exported but not listed in the map file' % name)
        elif ver != mapped[name] or not default:
            errors.append('%s is exported as %s%s%s, the map file lists it in %s'
                          % (name, name, '@@' if default else '@', ver, mapped[name]))
        if kind in 'TtWwi':
            functions.add(name)
        else:
            variables.add(name)

    for name, node in sorted(mapped.items()):
        if name not in syms:
            errors.append('%s is listed in %s of the map file but not exported '
                          '(not defined, or not STG_EXTERN in lib/)' % (name, node))

    for name, kind in sorted(decls.items()):
        if name not in syms:
            errors.append('%s is declared STG_EXTERN in a public header but not exported '
                          '(missing from the map file or not defined)' % name)
        elif kind == 'function' and name not in functions:
            errors.append('%s is declared as a function but exported as data' % name)
        elif kind == 'variable' and name not in variables:
            errors.append('%s is declared as a variable but exported as code' % name)
    for name in sorted((functions | variables) - set(decls)):
        errors.append('%s is exported but no public header declares it STG_EXTERN' % name)

    want, got = expected_soname(include_dir), soname(lib)
    if got != want:
        errors.append('SONAME is %s, expected %s' % (got, want))

    if errors:
        print('FAIL: %d problem(s)' % len(errors))
        for e in errors:
            print('  ' + e)
        return 1
    print('OK: %d functions, %d variables exported in node(s) %s; SONAME %s; headers agree'
          % (len(functions), len(variables), ', '.join(nodes), got))
    return 0


if __name__ == '__main__':
    sys.exit(main())
