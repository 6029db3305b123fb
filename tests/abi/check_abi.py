#!/usr/bin/env python3
"""Compare the built shared library with the committed ABI baseline.

usage: check_abi.py UPDATE_SCRIPT LIBRARY BASELINE

The fresh build is dumped by the same script that writes the baseline
(tools/update-abi-baseline.sh), so both sides use the same abidw options.
Then `abidiff --no-added-syms -t BASELINE FRESH` must exit 0: any other exit
status fails the test and its report is printed. abidiff's status is a bit
set (1 error, 2 usage, 4 ABI change, 8 incompatible change) and a layout
break in a struct can give 4 alone, so every non-zero status is a failure.

Additions are compatible and pass: added functions and variables through
--no-added-syms, added types (a new public enum or struct no function uses
yet; -t reports those) through a suppression written here for the type names
that the baseline does not know. The two ways docs/abi.md lets a released
struct grow pass too, and only those: a versioned host struct (a row of
versioned_structs.def) may gain members at its end
(has_data_member_inserted_at = end), and a library-filled struct may give
the room of its `reserved_` words to new members (inserted between the
reserved array's first and last bit in the baseline, the size unchanged).
libabigail never suppresses a removed member or a smaller struct. The baseline is refreshed at release time
with tools/update-abi-baseline.sh, and from then on the additions are
protected too.

Exit 77 (skipped) when libabigail's tools are missing or the library has no
debug information.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SKIP = 77
TYPE_TAGS = ('class-decl', 'union-decl', 'enum-decl', 'typedef-decl')


def type_names(path):
    names = set()
    for el in ET.parse(path).iter():
        if el.tag in TYPE_TAGS and el.get('name'):
            names.add(el.get('name'))
    return names


def versioned_structs():
    """The struct names of versioned_structs.def (beside this script)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'versioned_structs.def')
    names = []
    with open(path) as f:
        for line in f:
            if line.startswith('STG_VERSIONED('):
                names.append(line[len('STG_VERSIONED('):].split(',')[0].strip())
    return names


def reserved_ranges(path):
    """(struct, first bit, end bit) of each baseline struct's reserved_ words."""
    root = ET.parse(path).getroot()
    sizes = {el.get('id'): int(el.get('size-in-bits', 0)) for el in root.iter('array-type-def')}
    out = []
    for cls in root.iter('class-decl'):
        for dm in cls.findall('data-member'):
            var = dm.find('var-decl')
            if var is not None and var.get('name') == 'reserved_' and var.get('type-id') in sizes:
                start = int(dm.get('layout-offset-in-bits'))
                out.append((cls.get('name'), start, start + sizes[var.get('type-id')]))
    return out


def growth_rules(baseline):
    """Suppressions for the documented growth of released structs."""
    text = ''
    for name in versioned_structs():
        text += ('[suppress_type]\n  label = versioned struct grows at its end\n'
                 '  name = %s\n  has_data_member_inserted_at = end\n' % name)
    for name, start, end in reserved_ranges(baseline):
        text += ('[suppress_type]\n  label = reserved words taken\n  name = %s\n'
                 '  has_size_change = no\n'
                 '  has_data_member_inserted_between = {%d, %d}\n' % (name, start, end))
    return text


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    update, lib, baseline = sys.argv[1:]
    for tool in ('abidw', 'abidiff', 'readelf'):
        if not shutil.which(tool):
            print('SKIP: %s not found (Debian: apt-get install abigail-tools binutils)' % tool)
            return SKIP
    if not os.path.exists(baseline):
        print('FAIL: no baseline at %s; create it with tools/update-abi-baseline.sh' % baseline)
        return 1
    sections = subprocess.run(['readelf', '-S', lib], capture_output=True, text=True,
                              env=dict(os.environ, LC_ALL='C'))
    if '.debug_info' not in sections.stdout:
        print('SKIP: %s has no debug information; the ABI check needs '
              'buildtype=debugoptimized (the default) or debug' % lib)
        return SKIP

    with tempfile.TemporaryDirectory(prefix='stg-abi-') as tmp:
        fresh = os.path.join(tmp, 'fresh.abi')
        dump = subprocess.run(['sh', update, '-o', fresh, lib])
        if dump.returncode != 0:
            print('FAIL: %s exited %d' % (update, dump.returncode))
            return 1

        added = sorted(type_names(fresh) - type_names(baseline))
        suppr = os.path.join(tmp, 'added-types.suppr')
        with open(suppr, 'w') as f:
            f.write('# types that are new since the baseline: additions are compatible\n')
            # stg__* names are the library's internals (the double underscore
            # rule): a private header's declaration-only struct can still show
            # up in a dump, and is never part of the ABI.
            f.write('[suppress_type]\n  label = internal\n  name_regexp = ^stg__\n')
            for name in added:
                f.write('[suppress_type]\n  label = added since baseline\n  name = %s\n' % name)
            f.write(growth_rules(baseline))

        cmd = ['abidiff', '--no-added-syms', '--non-reachable-types',
               '--suppressions', suppr, baseline, fresh]
        diff = subprocess.run(cmd, capture_output=True, text=True)
        report = diff.stdout + diff.stderr
        if diff.returncode != 0:
            print('FAIL: abidiff exited %d (bits: 1 error, 2 usage, 4 ABI change, '
                  '8 incompatible change)' % diff.returncode)
            print('$ ' + ' '.join(cmd))
            print(report)
            print('The library no longer matches abi/libstockguard.abi. If the change is '
                  'an intended and compatible one, refresh the baseline with\n'
                  '    tools/update-abi-baseline.sh BUILD_DIR\n'
                  'and commit it. An incompatible change needs a new SONAME instead.')
            return 1
        if added:
            print('note: %d public type(s) newer than the baseline (%s); refresh it with '
                  'tools/update-abi-baseline.sh at release time' % (len(added), ', '.join(added)))
        print('OK: ABI matches the baseline')
        print(report)
        return 0


if __name__ == '__main__':
    sys.exit(main())
