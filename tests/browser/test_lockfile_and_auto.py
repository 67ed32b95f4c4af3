"""Pyodide's own packages through fallback distribution bases, and enable("auto"),
in headless Chromium with real Pyodide.

Lockfile: the page's Pyodide base (what its loadPackage resolves file names
against) is pointed at a dead port, so natively `micropip.install("six")`
fails; with micropip-mirror and `dist_bases=[...]` the file comes from the
next base, a CORS static server of the staged dist folder, sha256-checked
against the lockfile. A base serving a wheel with the wrong bytes is refused.

Auto: a catalogue of local index servers (no CORS, dead, fast, slow) is probed;
the healthy ones come out fast first; after a page reload the choice is read
back from localStorage without any probe request.

Chromium only: Node.js has no CORS, no localStorage, and loads lockfile
packages from its local cache directory instead of fetch.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest

from tests.support.browser import dead_url, point_pyodide_at, reload_page, static_server

# Runs on every supported Pyodide release (tests/run: -m core per release).
pytestmark = pytest.mark.core


@pytest.fixture
def page(selenium_module_scope, micropip_mirror_wheel):
    """A fresh page (a reload, not a new browser) with micropip and micropip_mirror."""
    reload_page(selenium_module_scope, micropip_mirror_wheel)
    return selenium_module_scope


def run_json(selenium, code: str):
    return json.loads(selenium.run_async(code + "\njson.dumps(result)"))


@pytest.fixture(scope="module")
def good_base(pyodide_dist):
    with static_server(pyodide_dist, cors=True) as origin:
        yield origin + "/"


@pytest.fixture(scope="module")
def tampered_base(pyodide_dist, tmp_path_factory):
    """The dist folder's wheels for six and attrs with one byte changed."""
    root = tmp_path_factory.mktemp("tampered-dist")
    for wheel in list(pyodide_dist.glob("six-*.whl")) + list(pyodide_dist.glob("attrs-*.whl")):
        data = bytearray(wheel.read_bytes())
        data[-1] ^= 0xFF
        (root / wheel.name).write_bytes(bytes(data))
    with static_server(root, cors=True) as origin:
        yield origin + "/"


def test_dead_pyodide_base_fails_natively(page):
    """The control: with the base dead and no micropip-mirror, six cannot load."""
    point_pyodide_at(page, dead_url())
    result = run_json(page, """
import json, micropip
try:
    await micropip.install("six")
    import six
    result = "installed"
except BaseException as e:
    result = type(e).__name__
""")
    assert result != "installed", result


def test_lockfile_package_from_second_base(page, good_base):
    dead = dead_url()
    point_pyodide_at(page, dead)
    result = run_json(page, f"""
import json, micropip, micropip_mirror, pyodide_js
micropip_mirror.enable(["https://pypi.org/simple"], dist_bases=[{good_base!r}], hedge_after=None)
await micropip.install("six")
import six
records = [r for r in micropip_mirror.report(file=None).as_dicts() if r["kind"] == "lockfile"]
result = dict(six=six.__name__, records=records,
              loaded=pyodide_js.loadedPackages.to_py().get("six"))
""")
    assert result["six"] == "six"
    assert result["loaded"]  # Pyodide's own bookkeeping: it loaded six itself
    (record,) = result["records"]
    assert record["target"].startswith("six-") and record["target"].endswith(".whl")
    first, second = record["attempts"]
    assert first["url"].startswith(dead) and first["outcome"] == "failed"
    assert second["url"].startswith(good_base) and second["outcome"] == "ok"
    assert second["reason"] == ""  # sha256 from the lockfile was checked


def test_wrong_hash_base_is_refused(page, tampered_base, good_base):
    point_pyodide_at(page, tampered_base)
    result = run_json(page, f"""
import json, micropip, micropip_mirror
micropip_mirror.enable(["https://pypi.org/simple"], dist_bases=[{good_base!r}], hedge_after=None)
await micropip.install("attrs")
import attrs, six
records = [r for r in micropip_mirror.report(file=None).as_dicts() if r["kind"] == "lockfile"]
result = dict(ok=[attrs.__name__, six.__name__], records=records)
""")
    assert result["ok"] == ["attrs", "six"]
    assert sorted(r["target"].split("-")[0] for r in result["records"]) == ["attrs", "six"]
    for record in result["records"]:
        first, second = record["attempts"]
        assert first["url"].startswith(tampered_base) and "sha256 mismatch" in first["reason"]
        assert second["url"].startswith(good_base) and second["outcome"] == "ok"


def test_disable_restores_load_package(page, good_base):
    result = run_json(page, f"""
import json, sys, micropip, micropip_mirror
from micropip_mirror.adapters import adapter_for
adapter = adapter_for(micropip)
sites = adapter.load_package_sites()
before = [(o, a, o.__dict__.get(a) if isinstance(o, type) else getattr(o, a)) for o, a in sites]
micropip_mirror.enable(["https://pypi.org/simple"], dist_bases=[{good_base!r}])
during = [getattr(o, a) is v for o, a, v in before]
micropip_mirror.disable()
after = [(o.__dict__.get(a) if isinstance(o, type) else getattr(o, a)) is v for o, a, v in before]
result = dict(during=during, after=after)
""")
    assert result["during"] == [False, False]
    assert result["after"] == [True, True]


def test_every_base_failing_raises_instead_of_a_silent_miss(page):
    """Natively a failed lockfile download is only logged; here install raises."""
    dead = dead_url()
    point_pyodide_at(page, dead)
    result = run_json(page, """
import json, micropip, micropip_mirror
micropip_mirror.enable(["https://pypi.org/simple"], hedge_after=None)
try:
    await micropip.install("six")
    result = "no error"
except micropip_mirror.AllMirrorsFailed as e:
    result = str(e)
""")
    assert result.startswith("all mirrors failed for Pyodide package file 'six-")
    assert dead in result


# -- enable("auto") -------------------------------------------------------------------


class _IndexHandler(http.server.BaseHTTPRequestHandler):
    """Any /simple/<project>/ is a PEP 691 page listing one wheel."""

    cors = True
    delay = 0.0
    name = ""
    log: list = []

    def do_GET(self):
        self.log.append((self.name, self.path))
        time.sleep(self.delay)
        project = self.path.strip("/").split("/")[-1]
        body = json.dumps({"meta": {"api-version": "1.0"}, "name": project, "files": [
            {"filename": f"{project}-1.0-py3-none-any.whl",
             "url": f"/files/{project}-1.0-py3-none-any.whl", "hashes": {}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(body)))
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def indexes():
    """name -> index URL: two healthy (fast, slow by 0.3 s), one without CORS,
    one refusing connections, one accepting them and never answering; and the
    shared request log."""
    log: list = []
    servers, urls = [], {}
    for name, cors, delay in (("fast", True, 0.0), ("slow", True, 0.3), ("nocors", False, 0.0)):
        handler = type(f"{name}Handler", (_IndexHandler,),
                       {"cors": cors, "delay": delay, "name": name, "log": log})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{server.server_address[1]}/simple"
    urls["refused"] = dead_url().replace("/dist/", "/simple")
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)  # the kernel accepts; nobody ever answers
    urls["blackhole"] = f"http://127.0.0.1:{blackhole.getsockname()[1]}/simple"
    try:
        yield urls, log
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        blackhole.close()


def _auto_code(urls) -> str:
    catalogue = [urls[n] for n in ("nocors", "refused", "blackhole", "slow", "fast")]
    return f"""
import json, time, micropip_mirror
from micropip_mirror import Mirror, patch, probe
catalogue = [Mirror(url, name=name) for name, url in zip(
    ("nocors", "refused", "blackhole", "slow", "fast"), {catalogue!r})]
settings = probe.ProbeSettings(project="demo", timeout=1.0)
t0 = time.monotonic()
at_enable = [m.name for m in micropip_mirror.enable("auto", catalogue=catalogue,
                                                      probe_settings=settings)]
order = [m.name for m in await patch.ready()]
seconds = time.monotonic() - t0
probes = [r.as_dict() for r in micropip_mirror.report(file=None) if r.kind == "probe"]
import js
stored = json.loads(js.localStorage.getItem(probe.STORAGE_KEY) or "null")
result = dict(at_enable=at_enable, order=order, seconds=seconds, probes=probes,
              stored=stored, now=time.time())
"""


def test_auto_orders_usable_mirrors_by_latency_and_remembers_across_reload(
        page, indexes, micropip_mirror_wheel):
    urls, log = indexes
    page.run("from micropip_mirror import probe; probe.forget()")
    log.clear()
    first = run_json(page, _auto_code(urls))
    assert first["order"] == ["fast", "slow"]
    (record,) = first["probes"]
    reasons = {a["mirror"]: a for a in record["attempts"]}
    assert "CORS" in reasons["nocors"]["reason"] and "CORS" in reasons["refused"]["reason"]
    assert reasons["blackhole"]["reason"].startswith("timeout after 1 s")
    assert {n for n, _ in log} == {"fast", "slow", "nocors"}  # each asked once
    assert len(log) == 3
    stored = first["stored"]
    assert [m["name"] for m in stored["mirrors"]] == ["fast", "slow"]
    assert 3500 < stored["expires"] - first["now"] <= 3600
    print(f"auto probe took {first['seconds']:.2f} s")

    # A new page load: same choice from localStorage, nothing probed.
    log.clear()
    reload_page(page, micropip_mirror_wheel)
    second = run_json(page, _auto_code(urls))
    assert second["at_enable"] == second["order"] == ["fast", "slow"]
    assert second["probes"] == []
    assert log == []

