#!/usr/bin/env python3
"""Compare the built shared library with the committed ABI baseline.

usage: check_abi.py UPDATE_SCRIPT LIBRARY BASELINE [VERSIONED_STRUCTS_DEF]

The fresh build is dumped by the same script that writes the baseline
(tools/update-abi-baseline.sh), so both sides use the same abidw options.
Then `abidiff --no-added-syms -t BASELINE FRESH` must exit 0: any other exit
status fails the test and its report is printed. abidiff's status is a bit
set (1 error, 2 usage, 4 ABI change, 8 incompatible change) and a layout
break in a struct can give 4 alone, so every non-zero status is a failure.

Additions are compatible and pass: added functions and variables through
--no-added-syms, added types (a new public enum or struct no function uses
yet; -t reports those) through a suppression written here for the type names
that the baseline does not know. A versioned struct (a row of
VERSIONED_STRUCTS_DEF: it starts with its version, and the library reads
only as much of it as the caller's version has) may grow by members at its
end, which is how docs/abi.md says such a struct gets a new version: that
one change is suppressed for those structs alone, and any other change to
them (a member moved, resized or removed) still fails. The baseline is
refreshed at release time
with tools/update-abi-baseline.sh, and from then on the additions are
protected too.

New fields that take a struct's reserved words (docs/abi.md: a
library-filled struct never changes size, new fields take its reserved
words) are checked here, field by field, because abidiff reports any change
of a member: `reserved_words_taken()` accepts a struct of the baseline only
when its size is the same, every member before `reserved_` has the same
name, offset and type, so does every member after it, and the members that
replace `reserved_` (a smaller `reserved_` among them) lie within the bytes
it had. Such a struct, and only
such a struct, is then left out of abidiff's report.

Exit 77 (skipped) when libabigail's tools are missing or the library has no
debug information.
"""
import os
import re
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


def versioned_structs(path):
    with open(path) as f:
        return re.findall(r'^STG_VERSIONED\((\w+),', f.read(), re.M)


def type_table(root):
    """type-id -> element, for every type the dump declares."""
    return {el.get('id'): el for el in root.iter() if el.get('id')}


def type_name(types, tid, depth=0):
    """A printable name for a type id, the same in two dumps for the same type."""
    el = types.get(tid)
    if el is None or depth > 20:
        return '?' + str(tid)
    if el.tag == 'pointer-type-def':
        return type_name(types, el.get('type-id'), depth + 1) + '*'
    if el.tag == 'qualified-type-def':
        quals = ' '.join(q for q in ('const', 'volatile', 'restrict') if el.get(q) == 'yes')
        return quals + ' ' + type_name(types, el.get('type-id'), depth + 1)
    if el.tag == 'array-type-def':
        return '%s[%s bits]' % (type_name(types, el.get('type-id'), depth + 1), el.get('size-in-bits'))
    return el.get('name') or el.tag


def type_bits(types, tid, depth=0):
    el = types.get(tid)
    if el is None or depth > 20:
        return None
    if el.get('size-in-bits'):
        return int(el.get('size-in-bits'))
    if el.tag in ('typedef-decl', 'qualified-type-def'):
        return type_bits(types, el.get('type-id'), depth + 1)
    return None


def members(types, cls):
    out = []
    for dm in cls.findall('data-member'):
        var = dm.find('var-decl')
        out.append((var.get('name'), int(dm.get('layout-offset-in-bits')),
                    type_name(types, var.get('type-id')), type_bits(types, var.get('type-id'))))
    return out


def structs(root):
    return {el.get('name'): el for el in root.iter('class-decl')
            if el.get('name') and el.findall('data-member')}


def reserved_words_taken(base_path, fresh_path):
    """Names of the structs whose only change is new fields in reserved words."""
    base_root, fresh_root = ET.parse(base_path).getroot(), ET.parse(fresh_path).getroot()
    btypes, ftypes = type_table(base_root), type_table(fresh_root)
    bstructs, fstructs = structs(base_root), structs(fresh_root)
    taken = []
    for name, bcls in sorted(bstructs.items()):
        fcls = fstructs.get(name)
        if fcls is None or bcls.get('size-in-bits') != fcls.get('size-in-bits'):
            continue
        old, new = members(btypes, bcls), members(ftypes, fcls)
        if old == new:
            continue
        names = [m[0] for m in old]
        if names.count('reserved_') != 1:
            continue
        k = names.index('reserved_')
        _, start, _, bits = old[k]
        after = old[k + 1:]
        if bits is None or new[:k] != old[:k] or len(new) < len(old) or \
                new[len(new) - len(after):] != after:
            continue
        end = start + bits
        middle = new[k:len(new) - len(after)]
        if middle and all(m[3] is not None and start <= m[1] and m[1] + m[3] <= end for m in middle):
            taken.append(name)
    return taken


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    update, lib, baseline = sys.argv[1:4]
    grown = versioned_structs(sys.argv[4]) if len(sys.argv) == 5 else []
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
            for name in grown:
                f.write('[suppress_type]\n  label = versioned struct grown at its end\n'
                        '  type_kind = struct\n  name = %s\n  has_data_member_inserted_at = end\n'
                        % name)


            taken = reserved_words_taken(baseline, fresh)
            for name in taken:
                f.write('[suppress_type]\n  label = new fields in reserved words (checked above)\n'
                        '  name = %s\n' % name)

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
        if taken:
            print('note: new fields in the reserved words of %s (same size, same members '
                  'before them)' % ', '.join(taken))
        if added:
            print('note: %d public type(s) newer than the baseline (%s); refresh it with '
                  'tools/update-abi-baseline.sh at release time' % (len(added), ', '.join(added)))
        print('OK: ABI matches the baseline')
        print(report)
        return 0


if __name__ == '__main__':
    sys.exit(main())
