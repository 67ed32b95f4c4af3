"""Browser-test fixtures: the fleet of index servers, the Cloudflare Worker and a local
index serving micropip-mirror itself, once per session.

Why session scope: the fleet (four processes) and workerd take seconds to start;
every browser module shares them.  Also registers the ``core`` marker: the
subset of the fault matrix that runs on every Pyodide release
(``pytest tests/browser/test_matrix.py -m core --dist-dir ~/.cache/micropip-mirror/pyodide/0.26.4``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import load_wheel_into_page, static_server
from tests.support.fleet import Fleet
from tests.support.matrix import ALONE_CAP, MIRROR_CAP
from tests.support.pycs import add_pycs
from tests.support.worker_mirror import worker_mirror

ROOT = Path(__file__).resolve().parents[2]

# Modules whose cases are about what a browser enforces (CORS): Node.js has no
# CORS, so their Node items are deselected (not skipped: they do not exist there).
BROWSER_ONLY = ("test_matrix.py", "test_differential.py", "test_lockfile_and_auto.py",
                "test_robustness.py")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "core: run on every supported Pyodide release (tests/run): the harness, "
        "test_core, lockfile/auto, the CSP page, the machinery's own faults (test_robustness), "
        "what import + enable() load and that they come from the wheel's pycs, "
        "the matrix's dead mirror, no CORS, tampered wheel, file-host fallback, and the "
        "differential matrix's representative index shapes")


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        runtime = getattr(item, "callspec", None) and item.callspec.params.get("runtime")
        if item.path.name in BROWSER_ONLY and runtime == "node":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def fleet():
    """Every index server of tests/support/fleet.py, plus the Worker registered as "cloudflare"."""
    with Fleet(slow_seconds=3.0) as fleet:
        yield fleet


@pytest.fixture(scope="session")
def cloudflare(fleet):
    """The project's Worker in workerd (a WorkerMirror: .origin, .index_url, .files_url),
    proxying the fleet's upstream, which has no CORS: the Worker adds it."""
    with worker_mirror(fleet.origin("upstream-nocors")) as mirror:
        fleet.register("cloudflare", mirror.index_url)
        yield mirror


@pytest.fixture(scope="module")
def matrix_page(selenium_module_scope, micropip_mirror_wheel):
    """One Chromium page per matrix module, micropip and micropip_mirror loaded, the script
    timeout long enough for both installs of a case; ``.micropip_version`` set."""
    page = selenium_module_scope
    page.load_package("micropip")
    load_wheel_into_page(page, micropip_mirror_wheel)
    page.set_script_timeout(MIRROR_CAP + ALONE_CAP + 60)
    page.micropip_version = page.run("import micropip\nmicropip.__version__")
    return page


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """micropip-mirror's wheel as users get it: built by pip from pyproject.toml (from a
    copy of the tree, so no build/ or .egg-info is left in it for importlib.metadata to find),
    with the release's checked-hash .pyc files added (tests/support/pycs.py)."""
    out = tmp_path_factory.mktemp("built")
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copyfile(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(tree)],
                   check=True)
    (wheel,) = out.glob("micropip_mirror-*.whl")
    return add_pycs(wheel)


@pytest.fixture(scope="session")
def package_index(built_wheel, tmp_path_factory):
    """A PEP 503 index (with CORS) holding the micropip-mirror wheel, so a page can
    `micropip.install("micropip-mirror", index_urls=[package_index])` by name."""
    root = tmp_path_factory.mktemp("mm-package-index")
    (root / "files").mkdir()
    (root / "files" / built_wheel.name).write_bytes(built_wheel.read_bytes())
    sha256 = hashlib.sha256(built_wheel.read_bytes()).hexdigest()
    page = root / "simple" / "micropip-mirror"
    page.mkdir(parents=True)
    with static_server(root, cors=True) as base:
        # An absolute link: micropip 0.6 does not resolve relative ones (micropip-mirror
        # fixes that, but it is not installed yet when this index is used).
        (page / "index.html").write_text(
            f'<!DOCTYPE html><html><body><a href="{base}/files/{built_wheel.name}'
            f'#sha256={sha256}">{built_wheel.name}</a></body></html>\n')
        yield f"{base}/simple"
