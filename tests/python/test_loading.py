"""Library lookup, the prototype table, the version check, struct layouts,
and the binding's own Python-version floor."""
from __future__ import annotations

import ast
import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import stockguard as sg
from stockguard import _native as N

from conftest import BINDINGS, ROOT

PKG_DIR = os.path.dirname(sg.__file__)
LIB_PATH = N.lib.path


# ------------------------------------------------------------------ versions
def test_version_functions_agree_with_header():
    hdr = open(os.path.join(ROOT, "include", "stockguard", "version.h")).read()
    major = int(re.search(r"#define STG_VERSION_MAJOR (\d+)", hdr).group(1))
    minor = int(re.search(r"#define STG_VERSION_MINOR (\d+)", hdr).group(1))
    patch = int(re.search(r"#define STG_VERSION_PATCH (\d+)", hdr).group(1))
    assert sg.version_info() == (major, minor, patch)
    assert sg.version() == "%d.%d.%d" % (major, minor, patch)
    assert sg.version_number() == (major << 16) | (minor << 8) | patch
    assert sg.version_number() >> 16 == N.ABI_MAJOR
    assert os.path.exists(sg.library_path())
    assert "stockguard" in repr(N.lib)


# ------------------------------------------------------------------ fake libraries
class FakeFn:
    def __init__(self, value=0):
        self.value = value

    def __call__(self, *args):
        return self.value


class FakeLib:
    """Looks like a CDLL: one attribute per symbol, minus ``missing``."""

    def __init__(self, missing=None, version=0x010100, text=b"1.1.0"):
        self._missing = missing
        self._fns = {"stg_version_number": FakeFn(version), "stg_version_string": FakeFn(text)}

    def __getattr__(self, name):
        if name.startswith("_") or name == self._missing:
            raise AttributeError(name)
        return self._fns.setdefault(name, FakeFn())


def test_bind_fake_library_with_every_symbol():
    lib = N.bind(FakeLib(), "/fake/libstockguard.so.1")
    assert lib.path == "/fake/libstockguard.so.1"
    assert lib.version_string == "1.1.0"
    for name, argtypes, restype, marker in N.PROTOTYPES:
        fn = getattr(lib, name)
        assert fn.argtypes == argtypes and fn.restype is restype
        assert (getattr(fn, "errcheck", None) is not None) == (marker is not None)


def test_missing_symbol_names_symbol_and_path():
    with pytest.raises(sg.MissingSymbol) as info:
        N.bind(FakeLib(missing="stg_log_flush"), "/opt/old/libstockguard.so.1")
    err = info.value
    assert err.symbol == "stg_log_flush" and err.path == "/opt/old/libstockguard.so.1"
    assert "stg_log_flush" in str(err) and "/opt/old/libstockguard.so.1" in str(err)
    assert isinstance(err, ImportError) and isinstance(err, sg.StockguardError)
    assert err.code is None


@pytest.mark.parametrize("version,text", [(0x020000, b"2.0.0"), (0x000900, b"0.9.0")])
def test_version_mismatch_is_refused(version, text):
    with pytest.raises(sg.VersionMismatch) as info:
        N.bind(FakeLib(version=version, text=text), "/x/libstockguard.so.2")
    assert info.value.code == sg.Status.EVERSION
    assert text.decode() in str(info.value) and "/x/libstockguard.so.2" in str(info.value)


def test_newer_minor_version_is_accepted():
    lib = N.bind(FakeLib(version=0x010700, text=b"1.7.0"), "/x")
    assert lib.version_number == 0x010700


# ------------------------------------------------------------------ lookup order
def test_env_variable_is_the_only_candidate(tmp_path):
    (tmp_path / "libstockguard.so.1").write_bytes(b"")
    c = N.candidates({"STOCKGUARD_LIBRARY": "/some/where.so"}, str(tmp_path))
    assert c == [("STOCKGUARD_LIBRARY", "/some/where.so")]


def test_package_copy_comes_before_the_system(tmp_path):
    (tmp_path / "libstockguard.so.1").write_bytes(b"")
    c = N.candidates({}, str(tmp_path))
    assert c[0] == ("package", str(tmp_path / "libstockguard.so.1"))
    assert ("system", "libstockguard.so.1") in c[1:]


def test_system_soname_when_nothing_else(tmp_path):
    c = N.candidates({}, str(tmp_path))
    assert c[0] == ("system", "libstockguard.so.1")


def test_load_tries_in_order_and_reports_every_failure(tmp_path):
    (tmp_path / "libstockguard.so.1").write_bytes(b"not an ELF")
    tried = []

    def loader(path):
        tried.append(path)
        raise OSError("cannot open %s" % path)

    with pytest.raises(sg.LibraryNotFound) as info:
        N.load({}, str(tmp_path), loader=loader)
    assert tried[0] == str(tmp_path / "libstockguard.so.1")
    assert tried[1] == "libstockguard.so.1"
    msg = str(info.value)
    assert "STOCKGUARD_LIBRARY" in msg and str(tmp_path) in msg and "libstockguard.so.1" in msg


def test_load_with_env_binds_the_real_library():
    lib = N.load({"STOCKGUARD_LIBRARY": LIB_PATH})
    assert lib.stg_version_number() == N.lib.stg_version_number()


def test_load_through_a_fake_loader_checks_the_version():
    with pytest.raises(sg.VersionMismatch):
        N.load({"STOCKGUARD_LIBRARY": "/x.so"}, loader=lambda p: FakeLib(version=0x030000))


def _run(code, env, cwd=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("STOCKGUARD_LIBRARY", "PYTHONPATH")}
    env.update(extra)
    return env


def test_import_fails_clearly_when_env_path_is_wrong(tmp_path):
    missing = str(tmp_path / "nope.so.1")
    r = _run("import stockguard", _env(STOCKGUARD_LIBRARY=missing, PYTHONPATH=BINDINGS))
    assert r.returncode != 0
    assert "LibraryNotFound" in r.stderr and missing in r.stderr


def test_copy_next_to_the_package_is_found(tmp_path):
    pkg = tmp_path / "stockguard"
    shutil.copytree(PKG_DIR, str(pkg), ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    shutil.copy(LIB_PATH, str(pkg / "libstockguard.so.1"))
    r = _run("import stockguard; print(stockguard.library_path()); print(stockguard.version())",
             _env(PYTHONPATH=str(tmp_path)), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    path, version = r.stdout.split()
    assert os.path.realpath(path) == os.path.realpath(str(pkg / "libstockguard.so.1"))
    assert version == sg.version()


# ------------------------------------------------------------------ the table vs the ABI
def _map_symbols():
    text = open(os.path.join(ROOT, "lib", "libstockguard.map")).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return set(re.findall(r"^\s*(stg_\w+)\s*;", text, flags=re.M))


def test_prototype_table_covers_exactly_the_version_script():
    names = [p[0] for p in N.PROTOTYPES]
    assert len(names) == len(set(names)), "duplicate rows"
    assert set(names) == _map_symbols()


_SCALARS = {"int": ctypes.c_int, "unsigned int": ctypes.c_uint, "int64_t": ctypes.c_int64,
            "uint64_t": ctypes.c_uint64, "uint32_t": ctypes.c_uint32, "size_t": ctypes.c_size_t}


def _is_pointer(t):
    return (t in (ctypes.c_char_p, ctypes.c_void_p) or
            (isinstance(t, type) and issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr))))


def _check_type(ctext, t, where):
    ctext = " ".join(ctext.replace("const ", "").split())
    if "*" in ctext:
        assert _is_pointer(t), "%s: %r needs a pointer type, table has %r" % (where, ctext, t)
        if ctext.replace(" ", "") == "char*":
            assert t is ctypes.c_char_p, where
        return
    if ctext == "void":
        assert t is None, where
        return
    assert _SCALARS[ctext] is t, "%s: %r vs %r" % (where, ctext, t)


def test_prototypes_match_the_headers():
    src = ""
    for path in sorted(glob.glob(os.path.join(ROOT, "include", "stockguard", "*.h"))):
        src += open(path).read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    decls = {}
    for m in re.finditer(r"STG_EXTERN\s+([^;(]*?)\b(stg_\w+)\s*\(([^;]*?)\)\s*;", src, re.S):
        ret, name, params = m.group(1), m.group(2), m.group(3)
        plist = [] if params.strip() == "void" else [p.strip() for p in params.split(",")]
        decls[name] = (ret, plist)
    table = {p[0]: p for p in N.PROTOTYPES}
    assert set(decls) == set(table)
    for name, (ret, plist) in decls.items():
        _, argtypes, restype, marker = table[name]
        assert len(argtypes) == len(plist), name
        _check_type(ret, restype, name + " return")
        for i, (p, t) in enumerate(zip(plist, argtypes)):
            ptype = re.sub(r"\b\w+$", "", p) if not p.endswith("*") else p
            _check_type(ptype, t, "%s arg %d" % (name, i))
        if marker is not None:
            assert restype is ctypes.c_int, name + ": only status returns get an errcheck"


def _c_compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def test_struct_layouts_match_the_c_compiler(tmp_path):
    cc = _c_compiler()
    if cc is None:
        pytest.fail("no C compiler to check the struct layouts (install gcc)")
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <stockguard.h>",
             "int main(void) {"]
    expected = []
    for cname, cls in N.STRUCTS.items():
        lines.append('printf("%%s %%zu\\n", "%s", sizeof(%s));' % (cname, cname))
        expected.append("%s %d" % (cname, ctypes.sizeof(cls)))
        for fname, _ in cls._fields_:
            member = fname.rstrip("_") if fname in ("from_",) else fname
            lines.append('printf("%%s.%%s %%zu\\n", "%s", "%s", offsetof(%s, %s));'
                         % (cname, fname, cname, member))
            expected.append("%s.%s %d" % (cname, fname, getattr(cls, fname).offset))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), str(src), "-o",
                    str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE, text=True).stdout
    assert got.split("\n")[:-1] == expected


# ------------------------------------------------------------------ Python floor
def _modules():
    return sorted(glob.glob(os.path.join(BINDINGS, "stockguard", "*.py")))


@pytest.mark.parametrize("path", _modules(), ids=os.path.basename)
def test_sources_parse_as_python_3_9(path):
    src = open(path).read()
    ast.parse(src, filename=path, feature_version=(3, 9))
    # annotations are never evaluated at run time, so `X | Y` in them is harmless
    assert "from __future__ import annotations" in src


def _interpreters():
    found = {}
    for cand in [sys.executable, "/usr/bin/python3", shutil.which("python3")] + \
            sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3"))):
        if cand and os.path.exists(cand):
            found.setdefault(os.path.realpath(cand), cand)
    return sorted(found.values())


SMOKE = """
import array, sys, stockguard as sg
with sg.Policy(min_stock=10) as p:
    assert p.evaluate(8).published == 0
    assert list(p.evaluate_batch(array.array('q', [8, 20])).published) == [0, 20]
sent = []
with sg.Log(transport=lambda job: sent.append(job) or sg.Result.ok(),
            clock=sg.ManualClock(), storage=sg.MemoryStorage()) as log:
    log.submit('amazon', 'SKU-1', 3, sequence=1)
    assert log.pump() == 1 and log.get('amazon', 'SKU-1').status == sg.EntryStatus.SUCCESS
print('%d.%d' % sys.version_info[:2])
"""


@pytest.mark.parametrize("python", _interpreters())
def test_binding_runs_on_every_python_found(python):
    r = subprocess.run([python, "-c", SMOKE], env=_env(STOCKGUARD_LIBRARY=LIB_PATH,
                                                       PYTHONPATH=BINDINGS),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert tuple(int(x) for x in r.stdout.split(".")) >= (3, 9)


# ------------------------------------------------------------------ set_library_path
def test_set_library_path_before_first_use(tmp_path):
    """Without STOCKGUARD_LIBRARY the library is bound at first use, so the
    host can choose it after import (libclang's Config.set_library_path())."""
    copy = tmp_path / "libstockguard-copy.so.1"
    shutil.copy(LIB_PATH, str(copy))
    code = """
        import stockguard as sg
        from stockguard import _native as N
        assert "lib" not in vars(N)           # nothing bound by the import
        sg.set_library_path(%r)
        sg.set_library_path(%r)               # the same path again: a no-op
        print(sg.library_path())
        try:
            sg.set_library_path("/elsewhere/libstockguard.so.1")
        except sg.LibraryError as exc:
            print("refused:", exc)
        with sg.Policy(min_stock=3) as p:
            print(p.evaluate(2).published)
    """ % (str(copy), str(copy))
    r = _run(code, _env(PYTHONPATH=BINDINGS), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(copy)
    assert lines[1].startswith("refused:") and "before the first use" in lines[1]
    assert lines[2] == "0"


def test_set_library_path_to_a_wrong_file_fails_at_first_use(tmp_path):
    missing = str(tmp_path / "nope.so.1")
    r = _run("import stockguard as sg\nsg.set_library_path(%r)\nprint('imported')\n"
             "sg.version()\n" % missing, _env(PYTHONPATH=BINDINGS), cwd=str(tmp_path))
    assert r.stdout == "imported\n"
    assert r.returncode != 0 and "LibraryNotFound" in r.stderr and missing in r.stderr


def test_set_library_path_after_binding_is_refused():
    with pytest.raises(sg.LibraryError) as info:
        sg.set_library_path("/other/libstockguard.so.1")
    assert sg.library_path() in str(info.value)
    sg.set_library_path(sg.library_path())   # the bound one: accepted
    with pytest.raises(TypeError):
        sg.set_library_path(None)
