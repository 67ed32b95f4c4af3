"""micropip-mirror in a real JupyterLite site: on from kernel start, `%pip install` via the mirrors.

The site is built by the real `jupyter lite build` (jupyterlite-core and
jupyterlite-pyodide-kernel from PyPI, see support/jupyterlite_site.py) with
micropip-mirror's addon only: it puts the real wheel into the site's own Pyodide
and lockfile and sets the kernel's loadPyodideOptions.  The mirror list starts
with a dead mirror (connection refused); the install must go through the next
one, the fleet's upstream index, and nothing may leave 127.0.0.1 (the site's
server must have every file the kernel asks for).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse

import pytest
from selenium.webdriver.common.by import By

from micropip_mirror.jupyterlite import ENABLE_ARG, KERNEL_PLUGIN
from support import jupyterlite_site
from support.browser import chromium, static_server
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
def wheel(tmp_path_factory):
    return jupyterlite_site.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def chrome():
    with chromium(LOCAL_ONLY) as driver:
        yield driver


def run_repl(driver, site_url: str, cells: list[str], done_marker: str) -> list[str]:
    """Open the REPL app with `cells` as ?code= parameters; wait for `done_marker` in an output.

    Returns the text of every output area, in order.
    """
    query = urllib.parse.urlencode([("kernel", "python"), *(("code", c) for c in cells)])
    # A new visitor: no wheel or index page from an earlier test in the HTTP cache.
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get(f"{site_url}/repl/index.html?{query}")
    deadline = time.monotonic() + KERNEL_TIMEOUT
    outputs: list[str] = []
    while time.monotonic() < deadline:
        outputs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-CodeConsole .jp-OutputArea-output")]
        if any(done_marker in text for text in outputs):
            return outputs
        if any("Traceback (most recent call last)" in text for text in outputs):
            pytest.fail(f"a cell failed: {outputs}")
        time.sleep(0.5)
    console = "\n".join(e["message"][:300] for e in driver.get_log("browser"))
    pytest.fail(f"no {done_marker!r} after {KERNEL_TIMEOUT}s; outputs: {outputs}\nconsole:\n{console}")


def installed_through(fleet, outputs: list[str], project: str) -> dict:
    """Check the REPORT cell: `project` was asked at the dead mirror first, then served by
    the fleet's upstream, which also served the wheel.  Returns the index record."""
    report = json.loads(next(o for o in outputs if o.startswith("REPORT"))[len("REPORT"):])
    index = next(r for r in report if r["kind"] == "index" and r["target"] == project)
    assert [a["url"].split("/simple")[0] for a in index["attempts"]][:2] == [
        fleet.origin("refused"),
        fleet.origin("upstream"),
    ], index
    assert index["attempts"][0]["outcome"] == "failed", index
    assert index["served_by"] == index["attempts"][1]["mirror"], index
    upstream = [(e["method"], e["path"]) for e in fleet.log("upstream")]
    wheel_name = fleet.wheel(project, fleet.newest(project))["filename"]
    assert ("GET", f"/simple/{project}/") in upstream, upstream
    assert any(p.endswith("/" + wheel_name) for _, p in upstream), upstream
    return index


def kernel_options(site) -> dict:
    config = json.loads((site / "jupyter-lite.json").read_text())
    return config["jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]["loadPyodideOptions"]


REPORT_CELL = "import json, micropip_mirror; print('REPORT' + json.dumps(micropip_mirror.report(file=None).as_dicts()))"


def test_pip_magic_in_jupyterlite_skips_dead_mirror(fleet, chrome, wheel, tmp_path):
    """Addon configured on the command line only; the wheel is packed from the installed package."""
    started = time.monotonic()
    dead, healthy = fleet.url("refused"), fleet.url("upstream")
    site, build_log = jupyterlite_site.build_site(
        tmp_path / "site", wheel, [f"--MicropipMirrorAddon.mirrors={dead}", f"--MicropipMirrorAddon.mirrors={healthy}"])
    # The build log says what the addon did; the lockfile entry is pyodide-lock's.
    assert f"micropip-mirror: static/pyodide/{wheel.name}" in build_log, build_log
    assert "added to static/pyodide/pyodide-lock.json" in build_log, build_log
    # The build's Python (3.13) cannot compile for Pyodide 314's 3.14: the plain wheel, said so.
    assert "not py-compiled" in build_log, build_log
    entry = json.loads((site / "static/pyodide/pyodide-lock.json").read_text())["packages"]["micropip-mirror"]
    assert entry["file_name"] == wheel.name and entry["imports"] == ["micropip_mirror"], entry
    assert entry["depends"] == ["micropip"], entry
    assert entry["sha256"] == hashlib.sha256((site / "static/pyodide" / wheel.name).read_bytes()).hexdigest()
    fleet.clear_log()
    cells = [
        "%pip install mm-lib-a",
        "import mm_lib_a, mm_lib_b, mm_lib_c; print('IMPORTED', mm_lib_a.__version__, mm_lib_a.GENUINE)",
        REPORT_CELL,
    ]
    with jupyterlite_site.serve_site(site) as (site_url, site_requests):
        outputs = run_repl(chrome, site_url, cells, "REPORT")
    elapsed = time.monotonic() - started

    # The import cell: the newest genuine mm-lib-a and its dependency chain are installed.
    assert f"IMPORTED {fleet.newest('mm-lib-a')} True" in outputs, outputs
    installed_through(fleet, outputs, "mm-lib-a")
    # micropip-mirror came from the site's own Pyodide, and the kernel asked for nothing missing.
    assert any(r["path"].startswith("/static/pyodide/" + wheel.name) for r in site_requests)
    missing = [r for r in site_requests if r["status"] == 404 and r["path"] != "/favicon.ico"]
    assert not missing, missing
    print(f"JupyterLite test: {elapsed:.1f}s (site build + kernel start + install); outputs: {outputs}")


def test_site_own_kernel_options_are_kept(fleet, chrome, wheel, tmp_path):
    """The site already sets packages, env and an exec_lines arg; the addon is configured in
    jupyter_lite_config.json with an explicit wheel.  Everything the site had still works."""
    dead, healthy = fleet.url("refused"), fleet.url("upstream")
    site_options = {
        "packages": ["six"],
        "env": {"SITE_SETTING": "kept"},
        "args": ["-", "--InteractiveShellApp.exec_lines=SITE_LINE = 'ran'"],
    }
    def build():
        return jupyterlite_site.build_site(
            tmp_path / "site", wheel,
            site_config={"jupyter-lite-schema-version": 0, "jupyter-config-data": {"litePluginSettings": {
                KERNEL_PLUGIN: {"loadPyodideOptions": site_options}}}},
            lite_config={"MicropipMirrorAddon": {"mirrors": [dead, healthy], "wheel": str(wheel)}})[0]

    site = build()
    options = kernel_options(site)
    assert options["packages"] == ["six", "micropip", "micropip-mirror"], options
    assert options["env"] == {"SITE_SETTING": "kept", "MICROPIP_MIRROR_URLS": f"{dead},{healthy}"}, options
    assert options["args"] == ["-", ENABLE_ARG, site_options["args"][1]], options
    # A second build over the same output (what a site's deploy script does on every change):
    # nothing doubled, the same lockfile entry; the kernel below boots from this rebuilt site.
    entry = json.loads((site / "static/pyodide/pyodide-lock.json").read_text())["packages"]["micropip-mirror"]
    assert build() == site and kernel_options(site) == options
    assert json.loads((site / "static/pyodide/pyodide-lock.json").read_text())["packages"]["micropip-mirror"] == entry
    fleet.clear_log()
    cells = [
        "import os, pyodide_js; print('SITE', os.environ['SITE_SETTING'], SITE_LINE, "
        "'six' in pyodide_js.loadedPackages.to_py())",
        "%pip install mm-lib-c",
        REPORT_CELL,
    ]
    with jupyterlite_site.serve_site(site) as (site_url, _):
        outputs = run_repl(chrome, site_url, cells, "REPORT")
    assert "SITE kept ran True" in outputs, outputs
    installed_through(fleet, outputs, "mm-lib-c")


def test_site_built_with_the_kernels_lock_addon(fleet, chrome, wheel, tmp_path):
    """`--pyodide-lock`: the kernel's own lock addon writes a new lockfile (solved by uv);
    micropip-mirror's entry must land in that one, after it is written.  The base
    lockfile's packages stay at a Pyodide served from another loopback origin (offline,
    uv gets them from there; the lock addon would otherwise fetch them from a CDN)."""
    dead, healthy = fleet.url("refused"), fleet.url("upstream")
    lite = jupyterlite_site.make_lite_dir(tmp_path / "site" / "lite")
    with static_server(lite / "static" / "pyodide", cors=True) as dist_url:
        site, build_log = jupyterlite_site.build_site(
            tmp_path / "site", wheel,
            ["--pyodide-lock", f"--pyodide-lock-url={dist_url}/pyodide-lock.json", f"--micropip-mirror-urls={dead}",
             f"--micropip-mirror-urls={healthy}"],
            lite_config={"PyodideLockAddon": {"pyodide_lock_uv_options": {
                "extra_uv_args": ["--no-index", f"--find-links={lite / 'lock-wheels'}", f"--find-links={lite / 'pypi'}"]}}})
        options = kernel_options(site)
        assert options["lockFileURL"] == "./static/pyodide-lock/pyodide-lock.json", options
        lock = json.loads((site / "static/pyodide-lock/pyodide-lock.json").read_text())
        assert lock["packages"]["micropip-mirror"]["file_name"] == wheel.name, lock["packages"]["micropip-mirror"]
        assert build_log.index("post_build:micropip-mirror:lock") > build_log.index("lock:build"), build_log
        assert {"micropip", "micropip-mirror", "pyodide-kernel"} <= set(options["packages"]), options
        fleet.clear_log()
        with jupyterlite_site.serve_site(site) as (site_url, site_requests):
            outputs = run_repl(chrome, site_url, ["%pip install mm-lib-c", REPORT_CELL], "REPORT")
    installed_through(fleet, outputs, "mm-lib-c")
    assert any(r["path"].startswith("/static/pyodide-lock/" + wheel.name) for r in site_requests), site_requests
