"""micropip-mirror in a real JupyterLite site: on from kernel start, `%pip install` via the mirrors.

The site is built by the real `jupyter lite build` (jupyterlite-core and
jupyterlite-pyodide-kernel from PyPI, see support/jupyterlite_site.py) with the
real micropip_mirror wheel preloaded from the site's own Pyodide.  Its mirror
list starts with a dead mirror (connection refused); the install must go
through the next one, the fleet's upstream index, and nothing may leave
127.0.0.1 (the site's server must have every file the kernel asks for).
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from selenium.webdriver.common.by import By

from support import jupyterlite_site
from support.browser import chromium
from support.fleet import Fleet

# Nothing but 127.0.0.1 resolves, even on a machine with internet: a kernel
# that needed a CDN or pypi.org fails here instead of quietly passing.
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
KERNEL_TIMEOUT = 180  # seconds for the whole REPL session (boot + install + import)


@pytest.fixture(scope="module")
def fleet():
    with Fleet() as fleet:
        yield fleet


@pytest.fixture(scope="module")
def chrome():
    with chromium(LOCAL_ONLY) as driver:
        yield driver


def run_repl(driver, site_url: str, cells: list[str], done_marker: str) -> list[str]:
    """Open the REPL app with `cells` as ?code= parameters; wait for `done_marker` in an output.

    Returns the text of every output area, in order.
    """
    query = urllib.parse.urlencode([("kernel", "python"), *(("code", c) for c in cells)])
    driver.get(f"{site_url}/repl/index.html?{query}")
    deadline = time.monotonic() + KERNEL_TIMEOUT
    outputs: list[str] = []
    while time.monotonic() < deadline:
        outputs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-CodeConsole .jp-OutputArea-output")]
        if any(done_marker in text for text in outputs):
            return outputs
        time.sleep(0.5)
    console = "\n".join(e["message"][:300] for e in driver.get_log("browser"))
    pytest.fail(f"no {done_marker!r} after {KERNEL_TIMEOUT}s; outputs: {outputs}\nconsole:\n{console}")


def test_pip_magic_in_jupyterlite_skips_dead_mirror(fleet, chrome, tmp_path):
    started = time.monotonic()
    dead, healthy = fleet.url("refused"), fleet.url("upstream")
    wheel = jupyterlite_site.build_wheel(tmp_path / "wheel")
    site = jupyterlite_site.build_site(tmp_path / "site", wheel, [dead, healthy])
    fleet.clear_log()
    cells = [
        "%pip install mm-lib-a",
        "import mm_lib_a, mm_lib_b, mm_lib_c; print('IMPORTED', mm_lib_a.__version__, mm_lib_a.GENUINE)",
        "import json, micropip_mirror; print('REPORT' + json.dumps(micropip_mirror.report(file=None).as_dicts()))",
    ]
    with jupyterlite_site.serve_site(site) as (site_url, site_requests):
        outputs = run_repl(chrome, site_url, cells, "REPORT")
    elapsed = time.monotonic() - started

    # The import cell: the newest genuine mm-lib-a and its dependency chain are installed.
    newest = fleet.newest("mm-lib-a")
    assert f"IMPORTED {newest} True" in outputs, outputs

    # The report cell: the dead mirror was asked first and failed, the next one served.
    report = json.loads(next(o for o in outputs if o.startswith("REPORT"))[len("REPORT"):])
    index = next(r for r in report if r["kind"] == "index" and r["target"] == "mm-lib-a")
    assert [a["url"].split("/simple")[0] for a in index["attempts"]][:2] == [
        fleet.origin("refused"),
        fleet.origin("upstream"),
    ], index
    assert index["attempts"][0]["outcome"] == "failed", index
    assert index["served_by"] == index["attempts"][1]["mirror"], index

    # The fleet's log: the healthy mirror served the page and the wheel.
    upstream = [(e["method"], e["path"]) for e in fleet.log("upstream")]
    wheel_name = fleet.wheel("mm-lib-a", newest)["filename"]
    assert ("GET", "/simple/mm-lib-a/") in upstream, upstream
    assert any(p.endswith("/" + wheel_name) for _, p in upstream), upstream

    # micropip-mirror came from the site's own Pyodide, and the kernel asked for nothing missing.
    assert any(r["path"].startswith("/static/pyodide/" + wheel.name) for r in site_requests)
    missing = [r for r in site_requests if r["status"] == 404 and r["path"] != "/favicon.ico"]
    assert not missing, missing
    print(f"JupyterLite test: {elapsed:.1f}s (wheel + site build + kernel start + install); outputs: {outputs}")
