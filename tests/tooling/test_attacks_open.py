"""Attacks on the issue-14 build-time code that still break (left open: not a small fix).

Each test states the behaviour a user would expect and fails today; see the report of the
branch that added it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from micropip_mirror import jupyterlite
from tests.tooling.test_jupyterlite_helper import HOST, SAME_PYTHON, staged_lockfile


def test_an_already_py_compiled_wheel_can_be_added(tmp_path, built):
    """`--MicropipMirrorAddon.wheel=` naming a wheel the user compiled with `pyodide py-compile`
    (the README recommends the compiled form) for a Pyodide of the same Python.  pyodide-lock
    0.2.1's add_wheels_to_spec refuses cpXY-none-any ("Package tags ... don't match Python
    version in lockfile"), although Pyodide loads it; the entry would have to be written
    without add_wheels_to_spec's tag check."""
    staged_lockfile(SAME_PYTHON, tmp_path / "pyodide")
    folder = tmp_path / "compiled"
    folder.mkdir()
    shutil.copyfile(built["wheel"], folder / built["wheel"].name)
    subprocess.run([sys.executable, "-m", "pyodide_cli", "py-compile", "--silent",
                    str(folder / built["wheel"].name)], check=True)
    compiled = next(folder.glob("*.whl"))
    assert f"-cp{HOST.replace('.', '')}-none-any" in compiled.name

    entry = jupyterlite.add_wheel_to_lockfile(tmp_path / "pyodide" / "pyodide-lock.json", compiled)

    assert entry["file_name"] == compiled.name
    assert json.loads((tmp_path / "pyodide" / "pyodide-lock.json").read_text())["packages"][
        "micropip-mirror"]["file_name"] == compiled.name
