"""The py-compiled wheel the JupyterLite addon ships for a Pyodide of the build's Python
(`add_wheel_to_lockfile(..., py_compile=True)`) loads from a self-hosted Pyodide's lockfile
and works: Pyodide installs it while booting, micropip_mirror comes from .pyc files only,
and enable() patches micropip.

Its own staged Pyodide, whatever --dist-dir says: `pyodide py-compile` compiles with the
Python it runs on (this venv's 3.13), so the Pyodide must be a 3.13 one (0.29.3).
"""

from __future__ import annotations

import json
import shutil
import sys

from micropip_mirror.jupyterlite import add_wheel_to_lockfile
from support import stage_pyodide
from support.browser import chromium, static_server

PYODIDE_FOR_THIS_PYTHON = {(3, 13): "0.29.3", (3, 12): "0.27.7"}[sys.version_info[:2]]

BOOT = """
const done = arguments[arguments.length - 1];
loadPyodide({packages: ["micropip-mirror"]})
  .then(py => py.runPythonAsync(`
import micropip, micropip_mirror
micropip_mirror.enable(["https://mirror.invalid/simple"])
f"{micropip_mirror.__file__} {micropip_mirror.is_enabled()}"
`))
  .then(done, e => done("ERROR " + e));
"""


def test_py_compiled_wheel_boots_from_the_lockfile(tmp_path, built_wheel):
    version = PYODIDE_FOR_THIS_PYTHON
    dist = tmp_path / "pyodide"
    shutil.copytree(stage_pyodide.stage(version, stage_pyodide.CACHE / "pyodide" / version), dist, symlinks=True)
    entry = add_wheel_to_lockfile(dist / "pyodide-lock.json", built_wheel, py_compile=True)
    assert entry["file_name"].endswith(f"-cp{sys.version_info[0]}{sys.version_info[1]}-none-any.whl"), entry
    (dist / "index.html").write_text("<!doctype html><script src='pyodide.js'></script>")
    with static_server(dist) as base, chromium() as driver:
        driver.get(f"{base}/index.html")
        driver.set_script_timeout(120)
        result = driver.execute_async_script(BOOT)
    assert result.endswith("/micropip_mirror/__init__.pyc True"), result
    assert json.loads((dist / "pyodide-lock.json").read_text())["packages"]["micropip-mirror"] == entry
