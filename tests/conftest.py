"""Shared pytest setup: import paths, the staged Pyodide, Chromium flags, page helpers.

Browser tests use pytest-pyodide's fixtures (`selenium`, `selenium_module_scope`,
`selenium_standalone`, `run_in_pyodide`) against a Pyodide staged offline by
tests/support/stage_pyodide.py.  Without --dist-dir the staged 314.0.7 is used
(and staged on first use).  CPython-only runs (tests/unit in the micropip 0.6 /
0.9 venvs) do not have pytest-pyodide installed; everything browser-related
here is skipped over in that case.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
for path in (ROOT, ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.support import stage_pyodide  # noqa: E402
from tests.support.browser import CHROME_FLAGS, load_wheel_into_page, package_wheel  # noqa: E402

try:
    import pytest_pyodide  # noqa: F401

    HAVE_PYTEST_PYODIDE = True
except ImportError:
    HAVE_PYTEST_PYODIDE = False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not HAVE_PYTEST_PYODIDE:
        return
    # Default --dist-dir: the staged newest Pyodide (pytest-pyodide's own
    # default, ./pyodide, does not exist here).
    if str(config.option.dist_dir) == "pyodide" and not Path("pyodide").exists():
        config.option.dist_dir = stage_pyodide.stage(
            stage_pyodide.DEFAULT_VERSION, stage_pyodide.CACHE / "pyodide" / stage_pyodide.DEFAULT_VERSION
        )
    from pytest_pyodide import get_global_config

    get_global_config().set_flags("chrome", CHROME_FLAGS)
    # Selenium Manager cannot reach the network; offline mode makes it use
    # chromedriver from PATH (Debian's chromium-driver) without retrying.
    os.environ.setdefault("SE_OFFLINE", "true")


@pytest.fixture(scope="session")
def pyodide_dist(request) -> Path:
    """The Pyodide distribution folder the browser tests run against."""
    return Path(request.config.option.dist_dir).resolve()


@pytest.fixture(scope="session")
def pyodide_version(pyodide_dist) -> str:
    """Version of the Pyodide under test, e.g. '314.0.7' (from its package.json)."""
    import json

    return json.loads((pyodide_dist / "package.json").read_text())["version"]


@pytest.fixture(scope="session")
def micropip_mirror_wheel(tmp_path_factory) -> Path:
    """A wheel of src/micropip_mirror as it is now, for loading into a page."""
    return package_wheel(tmp_path_factory.mktemp("mm-wheel"), ROOT / "src" / "micropip_mirror", "0.1.0")


@pytest.fixture
def load_wheel():
    """`load_wheel(selenium, path)`: unpack a local wheel into the page's site-packages."""
    return load_wheel_into_page
