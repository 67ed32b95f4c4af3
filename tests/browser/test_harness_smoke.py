"""The browser harness itself works: staged Pyodide, micropip, real CORS, Node.

If these fail, every other browser test is meaningless, so they check the
harness's own claims: micropip comes from the offline-staged lockfile, a wheel
on another origin installs only when that origin sends CORS headers (in
Chromium; Node.js has no CORS), and run_in_pyodide works.
"""

from __future__ import annotations

import json

import pytest
from pytest_pyodide import run_in_pyodide

from tests.support.browser import load_wheel_into_page, make_wheel, static_server

# Runs on every supported Pyodide release (tests/run: -m core per release).
pytestmark = pytest.mark.core


def _wheel(tmp_path, name):
    return make_wheel(tmp_path, name, "1.0", {f"{name}/__init__.py": f"NAME = {name!r}\n"})


def test_micropip_comes_from_staged_lockfile(selenium, pyodide_dist):
    lock = json.loads((pyodide_dist / "pyodide-lock.json").read_text())
    version = selenium.run_async("import micropip\nmicropip.__version__")
    assert version == lock["packages"]["micropip"]["version"]


def test_install_from_other_origin_with_cors(selenium, tmp_path):
    wheel = _wheel(tmp_path, "smoke_cors")
    with static_server(tmp_path, cors=True) as base:
        name = selenium.run_async(
            f"""
import micropip
await micropip.install({base + "/" + wheel.name!r})
import smoke_cors
smoke_cors.NAME
"""
        )
    assert name == "smoke_cors"


def test_install_from_other_origin_without_cors(selenium, tmp_path):
    """Chromium blocks a cross-origin fetch without CORS headers; Node has no CORS."""
    wheel = _wheel(tmp_path, "smoke_nocors")
    code = f"""
import micropip
await micropip.install({{url!r}})
import smoke_nocors
smoke_nocors.NAME
"""
    with static_server(tmp_path, cors=False) as base:
        url = f"{base}/{wheel.name}"
        if selenium.browser == "node":
            assert selenium.run_async(code.format(url=url)) == "smoke_nocors"
        else:
            with pytest.raises(selenium.JavascriptException, match="Failed to fetch"):
                selenium.run_async(code.format(url=url))


def test_load_wheel_into_page(selenium, tmp_path):
    load_wheel_into_page(selenium, _wheel(tmp_path, "smoke_loaded"))
    assert selenium.run("import smoke_loaded\nsmoke_loaded.NAME") == "smoke_loaded"


def test_lockfile_package_loads(selenium):
    """six and attrs come from the staged lockfile (their files are PyPI's)."""
    assert selenium.run_async("import attrs, six\nsix.__name__ + attrs.__name__") == "sixattrs"


@run_in_pyodide(packages=["micropip"])
def test_run_in_pyodide_works(selenium):
    import sys

    import micropip

    assert sys.platform == "emscripten"
    assert micropip.__version__
