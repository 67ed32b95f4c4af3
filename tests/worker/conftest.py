"""Fixtures for the Worker tests: real upstream servers on loopback and the Worker in workerd.

- `index_upstream`: simple-repository-server over the suite's test wheels plus a generated
  multi-MB file (PEP 691 JSON and HTML, relative `../../resources/...` file links).
- `html_upstream`: a small stdlib server in this process that behaves like the HTML-only
  mirrors (PEP 503 page with `../../packages/...#sha256=` links and data-* attributes), a legacy
  JSON API, a 500 page, a file whose body stalls half-way, and a path that never answers.
  It records every request path, so a test can prove the Worker did not contact it, and it
  serves a fake Pyodide distribution under three bases (one broken).
- `worker`, `html_worker`, `dead_worker`: each runs twice, once as the Worker and once as the
  Snippet built from the same source (no bindings), so shared cases show the same behaviour.
  `cached_worker` is the Worker only, for what needs its Cache API.
"""

from __future__ import annotations

import http.server
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from support.projects import build_projects
from support.worker_mirror import start_worker, stop_worker
from worker_upstreams import HUGE_NAME, HUGE_SIZE, HtmlMirror

TARGETS = ["worker", "snippet"]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def projects_dir(tmp_path_factory) -> tuple[Path, dict]:
    """The suite's test wheels, plus mm-huge: a few MB of random bytes to stream."""
    dest = tmp_path_factory.mktemp("worker-projects")
    built = build_projects(dest)
    (dest / "mm-huge").mkdir()
    (dest / "mm-huge" / HUGE_NAME).write_bytes(random.Random(7).randbytes(HUGE_SIZE))
    return dest, built


def _srs_command() -> str:
    beside = Path(sys.executable).parent / "simple-repository-server"
    return str(beside) if beside.exists() else (shutil.which("simple-repository-server") or "")


@pytest.fixture(scope="session")
def index_upstream(projects_dir):
    """simple-repository-server on a free port; yields its origin."""
    command = _srs_command()
    assert command, "simple-repository-server is not installed (tests/requirements)"
    dest, _ = projects_dir
    for _attempt in range(3):  # a free port can be taken between bind(0) and the server's bind
        port = free_port()
        proc = subprocess.Popen(
            [command, "--host", "127.0.0.1", "--port", str(port), str(dest)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        origin = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{origin}/simple/", timeout=30)
            break
        except Exception:
            proc.terminate()
            proc.wait(timeout=10)
    else:
        pytest.fail("simple-repository-server did not start")
    yield origin
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def html_upstream():
    """Yields (origin, list of request paths it received)."""
    seen: list[str] = []
    handler = type("Handler", (HtmlMirror,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def mirrors(index_upstream, html_upstream):
    """Starts each (upstream, target) mirror once, on first use; stops them all at the end."""
    dead = f"http://127.0.0.1:{free_port()}"
    html = html_upstream[0]
    kinds = {
        # the Worker mirroring simple-repository-server (files from the same origin)
        "index": lambda target: start_worker(index_upstream, target=target),
        # the HTML-only upstream, 1 s timeout, files <= 1 KB cached, three Pyodide bases
        "html": lambda target: start_worker(
            html, timeout_ms=1000, cache_max_file_bytes=1024, target=target,
            upstream_pyodide=[f"{html}/pyodide-500", f"{html}/pyodide-a", f"{html}/pyodide-b"]),
        # an index under a path whose root listing is JSON only
        "json-root": lambda target: start_worker(f"{html}/json-only", html, target=target),
        # pointed at a port nobody listens on
        "dead": lambda target: start_worker(dead, upstream_pyodide=dead, target=target),
    }
    started: dict = {}

    def get(kind: str, target: str):
        if (kind, target) not in started:
            started[(kind, target)] = kinds[kind](target)
        return started[(kind, target)]

    yield get
    for mirror in started.values():
        stop_worker(mirror)


@pytest.fixture(scope="session", params=TARGETS)
def worker(request, mirrors):
    return mirrors("index", request.param)


@pytest.fixture(scope="session", params=TARGETS)
def html_worker(request, mirrors):
    return mirrors("html", request.param)


@pytest.fixture(scope="session", params=TARGETS)
def dead_worker(request, mirrors):
    return mirrors("dead", request.param)


@pytest.fixture(scope="session")
def cached_worker(mirrors):
    """The Worker (not the Snippet): its Cache API answers X-Mirror-Cache: hit."""
    return mirrors("index", "worker")


@pytest.fixture(scope="session")
def cached_html_worker(mirrors):
    return mirrors("html", "worker")
