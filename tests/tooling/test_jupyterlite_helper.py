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
from pathlib import Path

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
    # Every build of a site packs the same bytes (its lockfile's sha256 does not change with
    # the clock): the members carry a fixed date, not the time of packing.
    with zipfile.ZipFile(packed) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    first = packed.read_bytes()
    assert jupyterlite.wheel_from_installed(tmp_path / "again").read_bytes() == first
    assert sys.modules["micropip_mirror"]  # the package under test was not replaced


def build_without_pyodide(tmp_path, wheel, *options: str) -> subprocess.CompletedProcess:
    """The real `jupyter lite build`, micropip-mirror installed, on a lite dir with no Pyodide."""
    from tests.support import jupyterlite_site

    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(installed)
    (tmp_path / "lite").mkdir()
    return subprocess.run(
        [str(jupyterlite_site.jupyter_lite()), "build", "--lite-dir", str(tmp_path / "lite"),
         "--output-dir", str(tmp_path / "out"), "--no-sourcemaps", *options],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True, timeout=300)


def test_addon_refuses_a_site_without_a_self_hosted_pyodide(tmp_path, built):
    """Asked for (an option given) on a site with no Pyodide: the build fails and says why
    (the kernel would load micropip-mirror from nowhere)."""
    done = build_without_pyodide(tmp_path, built["wheel"], "--micropip-mirror-urls=https://m.example/simple")
    assert done.returncode != 0
    assert "no self-hosted Pyodide" in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]


def test_addon_not_asked_for_leaves_a_cdn_site_alone(tmp_path, built):
    """micropip-mirror merely installed next to jupyterlite-core (which runs every installed
    addon): a site loading Pyodide from its CDN still builds, without micropip-mirror.  (Such
    builds used to fail.)"""
    done = build_without_pyodide(tmp_path, built["wheel"])
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "[micropip-mirror] skipped: not configured" in log, log[-3000:]
    assert "micropip" not in (tmp_path / "out" / "jupyter-lite.json").read_text()


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


# Odd contents a site's own jupyter-lite.json can have (attacks on the merge).
@pytest.mark.parametrize("site, expected", [
    # JSON null counts as absent, at every level.
    (None, {"packages": ["micropip", "micropip-mirror"], "args": ["-", ENABLE_ARG]}),
    ({"args": None, "packages": None, "env": None, "indexURL": "./"},
     {"packages": ["micropip", "micropip-mirror"], "args": ["-", ENABLE_ARG], "indexURL": "./", "env": None}),
    # Already listed under another spelling of the name: not listed twice.
    ({"packages": ["Micropip_Mirror", "MICROPIP"]},
     {"packages": ["Micropip_Mirror", "MICROPIP"], "args": ["-", ENABLE_ARG]}),
    # The startup line already after "-" (a second build over the same output) stays once.
    ({"args": ["-X", "dev", "-", "--x=1", ENABLE_ARG]},
     {"packages": ["micropip", "micropip-mirror"], "args": ["-X", "dev", "-", "--x=1", ENABLE_ARG]}),
])
def test_merge_kernel_options_takes_nulls_and_other_spellings(site, expected):
    assert jupyterlite.merge_kernel_options(site, []) == expected
    assert jupyterlite.merge_kernel_options(expected, []) == expected


@pytest.mark.parametrize("site", [{"args": "-X dev"}, {"packages": "numpy"}, {"env": ["A=1"]}])
def test_merge_kernel_options_refuses_what_loadPyodide_would_refuse(site):
    """A string where loadPyodide wants a list was once split into characters."""
    with pytest.raises(ValueError, match=f"loadPyodideOptions.{next(iter(site))} must be"):
        jupyterlite.merge_kernel_options(site, MIRRORS)


@pytest.mark.parametrize("mirrors", [[""], ["  "], ["", " "]])
def test_blank_mirrors_keep_the_sites_own_list(mirrors):
    """`--micropip-mirror-urls=` gives [""] (traitlets): that must not blank the site's value."""
    merged = jupyterlite.merge_kernel_options({"env": {"MICROPIP_MIRROR_URLS": "https://site/simple"}}, mirrors)
    assert merged["env"] == {"MICROPIP_MIRROR_URLS": "https://site/simple"}


def test_mirror_entries_reach_enable_as_given():
    """Entries with spaces, several URLs in one entry, cloudflare: entries: the joined env value
    parses (config.parse_mirrors, what enable() reads) back into the same mirrors, in order."""
    from micropip_mirror.config import parse_mirrors

    given = [" https://a.example/simple ", "https://b.example/simple, https://c.example/simple",
             "cloudflare:https://w.example"]
    env = jupyterlite.merge_kernel_options({}, given)["env"]["MICROPIP_MIRROR_URLS"]
    assert [m.index_url for m in parse_mirrors(env)] == [
        m.index_url for m in parse_mirrors(["https://a.example/simple", "https://b.example/simple",
                                            "https://c.example/simple", "cloudflare:https://w.example"])]


@pytest.mark.parametrize("content", [
    {"jupyter-config-data": None},
    {"jupyter-config-data": {"litePluginSettings": None}},
    {"jupyter-config-data": {"litePluginSettings": {KERNEL_PLUGIN: None}}},
    {"jupyter-config-data": {"litePluginSettings": {KERNEL_PLUGIN: {"loadPyodideOptions": None}}}},
])
def test_configure_jupyterlite_json_takes_null_blocks(tmp_path, content):
    path = tmp_path / "jupyter-lite.json"
    path.write_text(json.dumps(content))
    jupyterlite.configure_jupyterlite_json(path, MIRRORS)
    options = json.loads(path.read_text())["jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN][
        "loadPyodideOptions"]
    assert options == jupyterlite.merge_kernel_options({}, MIRRORS)


def test_a_lockfile_with_an_older_micropip_mirror_gets_one_entry_for_the_new_wheel(tmp_path, built):
    """A site rebuilt after an upgrade: the old entry (other version, other depends) is replaced,
    and adding the same wheel again (a second build, py-compiled or not) changes nothing."""
    staged_lockfile(SAME_PYTHON, tmp_path / "pyodide")
    lock_path = tmp_path / "pyodide" / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    lock["packages"]["micropip-mirror"] = {**lock["packages"]["micropip"], "name": "micropip-mirror",
                                           "version": "0.0.1", "depends": ["micropip", "numpy"],
                                           "file_name": "micropip_mirror-0.0.1-py3-none-any.whl"}
    lock_path.write_text(json.dumps(lock))

    first = jupyterlite.add_wheel_to_lockfile(lock_path, built["wheel"], py_compile=True)
    first_lock = lock_path.read_text()
    again = jupyterlite.add_wheel_to_lockfile(lock_path, built["wheel"], py_compile=True)

    assert first["version"] == built["wheel"].name.split("-")[1] and first["depends"] == ["micropip"]
    # py-compile's output is not byte-reproducible: only the sha256 may differ, and it is the file's.
    assert {**again, "sha256": None} == {**first, "sha256": None}
    wheels = list(lock_path.parent.glob("*.whl"))
    assert [w.name for w in wheels] == [first["file_name"]]
    assert again["sha256"] == hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    assert json.loads(lock_path.read_text())["packages"].keys() == json.loads(first_lock)["packages"].keys() \
        == lock["packages"].keys()


def test_wheel_from_a_source_tree_says_what_to_do(tmp_path):
    """This test process imports micropip_mirror from src/ (PYTHONPATH): no dist-info, or only
    the src/micropip_mirror.egg-info that a `pip wheel .` of the work tree leaves (listing no
    files).  Either way: no wheel, and a message saying what to pass instead (it used to be
    importlib's bare PackageNotFoundError)."""
    with pytest.raises(RuntimeError, match=r"\(a source tree on the path\?\)|\(an editable install\?\)") as refused:
        jupyterlite.wheel_from_installed(tmp_path)
    assert "--MicropipMirrorAddon.wheel=PATH" in str(refused.value)
    assert not list(tmp_path.glob("*.whl"))


def test_wheel_from_an_editable_install_is_refused(tmp_path):
    """`pip install -e .` records only its dist-info and a .pth: packing that gave a wheel
    without the package (the site's kernel then failed at `import micropip_mirror`)."""
    from tests.tooling.conftest import ROOT

    src = tmp_path / "src-tree"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                           "--no-deps", "--disable-pip-version-check", "-e", str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = ("import pathlib, sys, micropip_mirror.jupyterlite as j\n"
             "assert pathlib.Path(j.__file__).is_relative_to(sys.argv[1]), j.__file__\n"
             "j.wheel_from_installed(pathlib.Path(sys.argv[2]))\n")
    ran = subprocess.run([str(venv / "bin" / "python"), "-c", probe, str(src), str(tmp_path / "out")],
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                         capture_output=True, text=True)
    assert ran.returncode == 1 and "installed without its package files" in ran.stderr, ran.stderr
    assert not list((tmp_path / "out").glob("*.whl"))


def test_py_compile_never_uses_another_pythons_pyodide_cli(tmp_path, built):
    """The build's Python without pyodide-build, a `pyodide` of another venv on PATH: the plain
    wheel, not that CLI's.  (It used to run it; one of another Python wrote a cpXY wheel this
    Pyodide cannot load, deleted the plain one, and the entry pointed at the deleted file.)"""
    from tests.support import jupyterlite_site

    staged_lockfile(SAME_PYTHON, tmp_path / "pyodide")
    python = jupyterlite_site.jupyter_lite().parent / "python"  # pyodide-lock, no pyodide-build
    foreign = Path(sys.executable).parent
    assert (foreign / "pyodide").exists() and not (python.parent / "pyodide").exists()
    probe = ("import json, pathlib, sys; from micropip_mirror import jupyterlite as j\n"
             "print(json.dumps(j.add_wheel_to_lockfile(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]),"
             " py_compile=True)))\n")
    done = subprocess.run([str(python), "-c", probe, str(tmp_path / "pyodide" / "pyodide-lock.json"), str(built["wheel"])],
                          env={**os.environ, "PATH": f"{foreign}:{os.environ['PATH']}"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)
    assert entry["file_name"] == built["wheel"].name
    assert [p.name for p in (tmp_path / "pyodide").glob("*.whl")] == [built["wheel"].name]


def test_py_compile_of_a_wheel_with_other_python_tags(tmp_path, built):
    """A `wheel` option naming a py2.py3 wheel: py-compile writes the cpXY one all the same, and
    the entry must point at it (the name was once derived by replacing "py3-none-any" only)."""
    staged_lockfile(SAME_PYTHON, tmp_path / "pyodide")
    wheel = tmp_path / built["wheel"].name.replace("-py3-none-any", "-py2.py3-none-any")
    shutil.copyfile(built["wheel"], wheel)

    entry = jupyterlite.add_wheel_to_lockfile(tmp_path / "pyodide" / "pyodide-lock.json", wheel, py_compile=True)

    assert entry["file_name"] == built["wheel"].name.replace("-py3-", f"-cp{HOST.replace('.', '')}-")
    assert [p.name for p in (tmp_path / "pyodide").glob("*.whl")] == [entry["file_name"]]


@pytest.mark.parametrize("name", ["micropip-0.11.1-py3-none-any.whl", "micropip_mirror-0.1.0.tar.gz"])
def test_cli_refuses_a_wheel_that_is_not_micropip_mirrors(tmp_path, pyodide_dir, name):
    """A mistyped wheel option: once, its package went into the lockfile and the kernel, asking
    for micropip-mirror, failed at boot.  Now refused, the site's files untouched."""
    before = (pyodide_dir / "pyodide-lock.json").read_text()
    staged = stage_pyodide.CACHE / "pyodide" / stage_pyodide.DEFAULT_VERSION
    shutil.copyfile(next(staged.glob("micropip-*.whl")), tmp_path / name)  # a real wheel, of micropip
    with pytest.raises(ValueError, match="is not a micropip-mirror wheel"):
        jupyterlite.main([str(tmp_path), str(tmp_path / name), *MIRRORS])
    assert (pyodide_dir / "pyodide-lock.json").read_text() == before
    assert not (tmp_path / "jupyter-lite.json").exists()


def test_an_already_py_compiled_wheel_can_be_added(tmp_path, built):
    """`--MicropipMirrorAddon.wheel=` naming a wheel the user compiled with `pyodide py-compile`
    for a Pyodide of the same Python.  pyodide-lock 0.2.1's add_wheels_to_spec refuses
    cpXY-none-any tags, although Pyodide loads them: the entry is made from a py3-named copy."""
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
