"""The package installs offline with pip + setuptools, and the README's
quick start runs as written."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

import stockguard as sg
from conftest import BINDINGS


def _build_tools_present() -> bool:
    r = subprocess.run([sys.executable, "-c", "import setuptools, wheel, pip"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode == 0


def test_pip_builds_and_installs_offline(tmp_path):
    if not _build_tools_present():
        if os.path.realpath(sys.executable).startswith("/usr/bin/"):
            pytest.fail("Debian's python3 lacks pip/setuptools/wheel: install python3-pip "
                        "python3-setuptools python3-wheel (tools/install-deps.sh)")
        pytest.skip("%s has no pip/setuptools/wheel to build with offline" % sys.executable)
    src = tmp_path / "src"
    # setuptools builds in the source folder: work on a copy of it
    shutil.copytree(BINDINGS, str(src), ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", "*.so*"))
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
                        "--no-index", "--no-deps", "-q", "-w", str(wheels), str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    [wheel] = os.listdir(str(wheels))
    assert wheel.startswith("stockguard-%s-py3-none-any" % sg.version())
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "-q",
                        "--target", str(site), str(wheels / wheel)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    assert (site / "stockguard" / "py.typed").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), STOCKGUARD_LIBRARY=sg.library_path())
    r = subprocess.run([sys.executable, "-c", "import stockguard as s; print(s.__file__, "
                        "s.version())"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(site)) and r.stdout.split()[1] == sg.version()


def test_readme_quick_start_runs(capsys):
    text = open(os.path.join(BINDINGS, "README.md")).read()
    block = re.search(r"## Quick start\s+```python\n(.*?)```", text, re.S).group(1)
    calls = []

    def my_http_put(sku, quantity):
        calls.append((sku, quantity))
        return 200

    exec(compile(block, "README.md", "exec"), {"my_http_put": my_http_put})
    assert calls == [("SKU-1", 0)]
    out = capsys.readouterr().out
    assert "publishes 0" in out
    assert re.search(r"^(4|Reason\.LOW_STOCK)$", out, re.M)  # str(IntEnum) changed in 3.11
