"""The README's China quick start, in headless Chromium with real Pyodide: one origin for everything.

A page (on its own origin, like a user's site) loads Pyodide *from the Worker*
(`<worker>/pyodide/v<version>/full/pyodide.mjs`), loads micropip from it, installs
`micropip-mirror` by name through the Worker's `/pypi/simple`, enables it with
`cloudflare:<worker>`, then installs an index package (mm-app, with its dependency) and a
lockfile package (six). A second page loads Pyodide from a site holding only its core files
and micropip: `six` then comes from the Cloudflare mirror's /pyodide/ base, unconfigured.

Behind the Worker (server side, in workerd): UPSTREAM_PYODIDE is a refused port (a jsDelivr
that does not answer) and then a static copy of the staged distribution; UPSTREAM_INDEX is a
pypiserver (HTML only, like most mirrors in China) holding the suite's projects plus the
micropip-mirror wheel built from this tree.

The browser resolves every host name (cdn.jsdelivr.net, its other hosts, pypi.org,
files.pythonhosted.org, anything) to a trap port that records each connection and closes it:
those origins are unreachable, and the trap's record (Host header or TLS SNI) proves none of
them was even tried. The page's resource
timing entries show every request went to the Worker's origin.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium, static_server
from tests.support.fleet import CACHE, find_tool, free_port, http_status
from tests.support.projects import build_projects
from tests.support.worker_mirror import worker_mirror

PAGE_TIMEOUT = 300  # Pyodide boot + three installs on a busy 2-core machine


class Trap:
    """A TCP port that records every connection (its first bytes) and closes it at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(1.0)
            try:
                self.seen.append(conn.recv(512))
            except OSError:
                self.seen.append(b"")
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def upstream_index(built_wheel, tmp_path_factory):
    """pypiserver over the suite's projects plus the micropip-mirror wheel; yields its origin."""
    root = tmp_path_factory.mktemp("china-index")
    projects = CACHE / "projects"
    build_projects(projects)
    shutil.copytree(projects, root, dirs_exist_ok=True)
    (root / "micropip-mirror").mkdir()
    shutil.copy(built_wheel, root / "micropip-mirror" / built_wheel.name)
    port = free_port()
    proc = subprocess.Popen([find_tool("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port),
                             "--disable-fallback", "--hash-algo", "sha256", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while http_status(f"{origin}/simple/micropip-mirror/") != 200:
        assert proc.poll() is None and time.monotonic() < deadline, "pypiserver did not start"
        time.sleep(0.1)
    yield origin
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def pyodide_upstream(pyodide_dist, pyodide_version, tmp_path_factory):
    """A static copy of the staged distribution laid out like jsDelivr (<base>/v<version>/full/)."""
    root = tmp_path_factory.mktemp("china-cdn")
    (root / f"v{pyodide_version}").mkdir()
    (root / f"v{pyodide_version}" / "full").symlink_to(pyodide_dist.resolve())
    with static_server(root, cors=False) as origin:
        yield origin


@pytest.fixture(scope="module")
def one_origin(upstream_index, pyodide_upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/pyodide"  # bound, never listening
        with worker_mirror(upstream_index, upstream_pyodide=[dead, pyodide_upstream]) as mirror:
            yield mirror


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>China quick start</title>
<link rel="icon" href="data:,">
<script src=%(pyodide_js)s></script></head>
<body><script type="module">
performance.setResourceTimingBufferSize(100000);
try {
  const { loadPyodide } = await import(%(pyodide_mjs)s);
  const pyodide = await loadPyodide();
  await pyodide.loadPackage("micropip");
  const out = await pyodide.runPythonAsync(%(python)s);
  window.done = { ok: true, out: JSON.parse(out), isolated: globalThis.crossOriginIsolated,
                  classic: typeof globalThis.loadPyodide === "function",
                  resources: performance.getEntriesByType("resource").map((e) => e.name) };
} catch (e) {
  window.done = { ok: false, error: String((e && e.stack) || e) };
}
</script></body></html>
"""

PYTHON = """
import json, micropip
await micropip.install("micropip-mirror", index_urls=["%(mirror)s/pypi/simple"])
import micropip_mirror
micropip_mirror.enable(["cloudflare:%(mirror)s"], hedge_after=None)
await micropip.install("mm-app")
await micropip.install("six")
import mm_app, mm_lib_a, six
records = micropip_mirror.report(file=None).as_dicts()
json.dumps({
    "mm_app": mm_app.__version__, "mm_lib_a": mm_lib_a.__version__, "six": six.__name__,
    "served_by": sorted({r["served_by"] for r in records if r.get("served_by")}),
    "urls": [a["url"] for r in records for a in r["attempts"]],
})
"""


# A cross-origin isolated page (what SharedArrayBuffer needs): everything it loads from other
# origins must allow it (CORS or Cross-Origin-Resource-Policy), as the Worker's answers do.
ISOLATED = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


def run_page(tmp_path, pyodide_mjs: str, python: str) -> tuple[dict, list[str], Trap]:
    """Open a cross-origin isolated page (its own origin) that loads Pyodide from `pyodide_mjs`,
    loads micropip and runs `python`, with every host name resolving to a trap; returns what the
    page reported, the browser console and the trap."""
    trap = Trap()
    site = tmp_path / "site"
    site.mkdir()
    pyodide_js = pyodide_mjs.removesuffix(".mjs") + ".js"  # also as a classic (no-cors) script
    (site / "index.html").write_text(PAGE % {"pyodide_mjs": json.dumps(pyodide_mjs),
                                              "pyodide_js": json.dumps(pyodide_js),
                                              "python": json.dumps(python)})
    try:
        with static_server(site, cors=False, headers=ISOLATED) as page_origin, chromium(
            f"--host-resolver-rules=MAP * 127.0.0.1:{trap.port}, EXCLUDE 127.0.0.1",
        ) as driver:
            driver.get(f"{page_origin}/index.html")
            done = WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.5).until(
                lambda d: d.execute_script("return window.done || null"))
            console = [e["message"] for e in driver.get_log("browser")]
    finally:
        trap.close()
    return done, console, trap


def test_page_needs_only_the_worker(one_origin, pyodide_version, tmp_path):
    mirror = one_origin.origin
    done, console, trap = run_page(tmp_path, one_origin.pyodide_url(pyodide_version) + "pyodide.mjs",
                                   PYTHON % {"mirror": mirror})
    assert done["ok"], f"{done.get('error')}\nconsole:\n" + "\n".join(console[-30:]) + one_origin.log()[-2000:]
    # a COOP/COEP page, where a no-cors <script src> needs Cross-Origin-Resource-Policy
    assert done["isolated"] is True and done["classic"] is True
    out = done["out"]
    assert out["mm_app"] == "2.0.0" and out["mm_lib_a"] and out["six"] == "six"
    # index pages and wheels: the "cloudflare" mirror; six: the Pyodide base on the Worker's host
    assert set(out["served_by"]) == {"cloudflare", urlsplit(mirror).netloc}, out
    assert out["urls"] and all(u.startswith(mirror + "/") for u in out["urls"]), out["urls"]
    resources = done["resources"]
    # Pyodide itself, its packages (micropip, six), the index pages and wheels: all from the Worker
    for wanted in ("pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json", "micropip-"):
        assert any(wanted in r and r.startswith(mirror) for r in resources), (wanted, resources)
    assert f"{mirror}/pypi/simple/micropip-mirror/" in resources, resources
    assert any(r.startswith(f"{mirror}/files/packages/micropip-mirror/micropip_mirror-") for r in resources)
    assert any("/pyodide/" in r and "/six-" in r for r in resources), resources
    assert all(r.startswith(mirror + "/") for r in resources), [r for r in resources if not r.startswith(mirror)]
    # Chromium's own background requests (clock, component updates) land in the trap too; none of
    # the hosts a Pyodide page uses may (the host is in the HTTP Host header or the TLS SNI).
    for host in (b"jsdelivr", b"pypi.org", b"pythonhosted", b"pyodide"):
        assert not [c for c in trap.seen if host in c], (host, trap.seen)


CORE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.js", "pyodide.asm.wasm",
              "python_stdlib.zip", "pyodide-lock.json")

LOCKFILE_FALLBACK = """
import json, micropip
await micropip.install("micropip-mirror", index_urls=["%(mirror)s/pypi/simple"])
import micropip_mirror
micropip_mirror.enable(["cloudflare:%(mirror)s"], hedge_after=None)
await micropip.install("six")
import six
(record,) = [r for r in micropip_mirror.report(file=None).as_dicts() if r["kind"] == "lockfile"]
json.dumps(record)
"""


def test_cloudflare_mirror_is_a_distribution_base(one_origin, pyodide_dist, pyodide_version, tmp_path):
    """A site hosting only Pyodide's core files and micropip (like the npm package): `six` is not
    there, and micropip-mirror takes it from the Cloudflare mirror's /pyodide/v<version>/full/
    without being told (no dist_bases), checked against the lockfile's sha256."""
    core = tmp_path / "core"
    core.mkdir()
    for f in [*CORE_FILES, *(p.name for p in pyodide_dist.glob("micropip-*.whl"))]:
        if (pyodide_dist / f).exists():
            (core / f).symlink_to((pyodide_dist / f).resolve())
    mirror = one_origin.origin
    with static_server(core, cors=True) as site:
        done, console, _ = run_page(tmp_path, f"{site}/pyodide.mjs", LOCKFILE_FALLBACK % {"mirror": mirror})
        assert done["ok"], f"{done.get('error')}\nconsole:\n" + "\n".join(console[-30:])
        first, second = done["out"]["attempts"]
        assert first["url"] == f"{site}/{done['out']['target']}" and first["outcome"] == "failed"
        assert second["url"] == f"{one_origin.pyodide_url(pyodide_version)}{done['out']['target']}"
        assert second["outcome"] == "ok" and second["reason"] == ""  # sha256 checked
