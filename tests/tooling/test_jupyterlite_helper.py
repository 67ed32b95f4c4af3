"""The JupyterLite build-time code: lockfile entry (pyodide-lock), kernel options merge,
the wheel packed back from an installed micropip-mirror, the CLI."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from micropip_mirror import jupyterlite
from micropip_mirror.jupyterlite import ENABLE_ARG, KERNEL_PLUGIN
from tests.support import stage_pyodide

MIRRORS = ["https://w.example/pypi/simple", "https://pypi.org/simple"]


def staged_lockfile(version: str, folder) -> None:
    """A real staged Pyodide lockfile in a scratch folder."""
    staged = stage_pyodide.stage(version, stage_pyodide.CACHE / "pyodide" / version)
    folder.mkdir(parents=True)
    shutil.copy(staged / "pyodide-lock.json", folder)


@pytest.fixture
def pyodide_dir(tmp_path):
    staged_lockfile(stage_pyodide.DEFAULT_VERSION, tmp_path / "static" / "pyodide")
    return tmp_path / "static" / "pyodide"


def test_cli_adds_the_wheel_and_merges_the_startup_settings(tmp_path, pyodide_dir, built):
    wheel = built["wheel"]
    before = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    (tmp_path / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {"litePluginSettings": {
        KERNEL_PLUGIN: {"loadPyodideOptions": {"packages": ["numpy"], "env": {"A": "1"}}}}}}))

    assert jupyterlite.main([str(tmp_path), str(wheel), *MIRRORS]) == 0

    after = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    entry = after["packages"]["micropip-mirror"]
    assert entry["file_name"] == wheel.name and (pyodide_dir / wheel.name).exists()
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert entry["imports"] == ["micropip_mirror"] and entry["depends"] == ["micropip"]
    # Every other entry and the info block (version included, for Pyodide 0.26/0.27) are kept.
    assert after["info"] == before["info"]
    assert set(after["packages"]) == set(before["packages"]) | {"micropip-mirror"}
    assert after["packages"]["micropip"]["sha256"] == before["packages"]["micropip"]["sha256"]
    options = json.loads((tmp_path / "jupyter-lite.json").read_text())[
        "jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]["loadPyodideOptions"]
    assert options["packages"] == ["numpy", "micropip", "micropip-mirror"]
    assert options["env"] == {"A": "1", "MICROPIP_MIRROR_URLS": ",".join(MIRRORS)}
    assert options["args"] == ["-", ENABLE_ARG]

    # A second run replaces the entry instead of adding one, and adds nothing twice.
    assert jupyterlite.main([str(tmp_path), str(wheel), *MIRRORS]) == 0
    again = json.loads((tmp_path / "jupyter-lite.json").read_text())[
        "jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]["loadPyodideOptions"]
    assert again == options


@pytest.mark.parametrize("site, expected", [
    ({}, {"packages": ["micropip", "micropip-mirror"], "env": {"MICROPIP_MIRROR_URLS": ",".join(MIRRORS)},
          "args": ["-", ENABLE_ARG]}),
    # The site's own IPython options stay, after ours (so its exec_lines run with the mirrors on).
    ({"args": ["-", "--InteractiveShellApp.exec_lines=x = 1"], "packages": ["micropip"],
      "env": {"MICROPIP_MIRROR_URLS": "https://old/simple", "B": "2"}, "fullStdLib": False},
     {"args": ["-", ENABLE_ARG, "--InteractiveShellApp.exec_lines=x = 1"], "packages": ["micropip", "micropip-mirror"],
      "env": {"MICROPIP_MIRROR_URLS": ",".join(MIRRORS), "B": "2"}, "fullStdLib": False}),
    # Python options before "-" stay before it.
    ({"args": ["-X", "dev"]}, {"args": ["-X", "dev", "-", ENABLE_ARG], "packages": ["micropip", "micropip-mirror"],
                               "env": {"MICROPIP_MIRROR_URLS": ",".join(MIRRORS)}}),
])
def test_merge_kernel_options_keeps_what_the_site_has(site, expected):
    assert jupyterlite.merge_kernel_options(site, MIRRORS) == expected
    assert jupyterlite.merge_kernel_options(expected, MIRRORS) == expected  # idempotent


def test_without_mirrors_the_sites_own_list_stays():
    merged = jupyterlite.merge_kernel_options({"env": {"MICROPIP_MIRROR_URLS": "auto"}}, [])
    assert merged["env"] == {"MICROPIP_MIRROR_URLS": "auto"}
    assert "env" not in jupyterlite.merge_kernel_options({}, [])


def test_wheel_from_installed_is_the_built_wheel(tmp_path, built, monkeypatch):
    """pip keeps no copy of the wheel: the addon packs the installed files back, same bytes."""
    installed = tmp_path / "site-packages"
    with zipfile.ZipFile(built["wheel"]) as zf:
        zf.extractall(installed)
        original = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/RECORD")}
    monkeypatch.syspath_prepend(str(installed))
    importlib.invalidate_caches()
    assert importlib.metadata.distribution("micropip-mirror").locate_file("").resolve() == installed.resolve()

    packed = jupyterlite.wheel_from_installed(tmp_path / "out")

    assert packed.name == built["wheel"].name
    with zipfile.ZipFile(packed) as zf:
        assert {n: zf.read(n) for n in zf.namelist() if not n.endswith("/RECORD")} == original
        record = zf.read(f"micropip_mirror-{packed.name.split('-')[1]}.dist-info/RECORD").decode()
    assert all(f"{name},sha256=" in record for name in original)
    assert sys.modules["micropip_mirror"]  # the package under test was not replaced


def test_addon_refuses_a_site_without_a_self_hosted_pyodide(tmp_path, built):
    """The real `jupyter lite build` with the addon installed, on a lite dir with no Pyodide:
    the build fails and says why (the kernel would load micropip-mirror from nowhere)."""
    from tests.support import jupyterlite_site

    installed = tmp_path / "installed"
    with zipfile.ZipFile(built["wheel"]) as zf:
        zf.extractall(installed)
    (tmp_path / "lite").mkdir()
    done = subprocess.run(
        [str(jupyterlite_site.jupyter_lite()), "build", "--lite-dir", str(tmp_path / "lite"),
         "--output-dir", str(tmp_path / "out"), "--no-sourcemaps", "--micropip-mirror-urls=https://m.example/simple"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "no self-hosted Pyodide" in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]


HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"
# A staged release whose Python is this one's (py-compile works) and one whose is not.
SAME_PYTHON = {"3.13": "0.29.3", "3.12": "0.27.7"}[HOST]


@pytest.mark.parametrize("version", [SAME_PYTHON, "314.0.7"])
def test_py_compiled_only_for_a_pyodide_of_this_python(tmp_path, built, version):
    staged_lockfile(version, tmp_path / "pyodide")
    lock_path = tmp_path / "pyodide" / "pyodide-lock.json"
    python = json.loads(lock_path.read_text())["info"]["python"]

    entry = jupyterlite.add_wheel_to_lockfile(lock_path, built["wheel"], py_compile=True)

    wheel = tmp_path / "pyodide" / entry["file_name"]
    assert entry == json.loads(lock_path.read_text())["packages"]["micropip-mirror"]
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert sorted(p.name for p in wheel.parent.glob("*.whl")) == [wheel.name]  # the plain copy is gone
    with zipfile.ZipFile(wheel) as zf:
        modules = [n for n in zf.namelist() if n.startswith("micropip_mirror/") and n.endswith((".py", ".pyc"))]
    if python.startswith(HOST + "."):
        assert wheel.name.endswith(f"-cp{HOST.replace('.', '')}-none-any.whl"), wheel.name
        assert modules and all(n.endswith(".pyc") for n in modules), modules
    else:
        assert wheel.name == built["wheel"].name
        assert modules and all(n.endswith(".py") for n in modules), modules
