"""A loopback index server whose answers a test writes path by path, with CORS.

Why: the robustness tests need answers no real index gives (JSON nested
100,000 deep) and an answer held back until the page says so (to act while an
install is in flight, without timing guesses): a path marked ``held`` is
answered only once something fetches ``/__release``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
import zipfile

PEP691 = "application/vnd.pypi.simple.v1+json"


def pep691_page(project: str, files: list[tuple[str, str, str | None]]) -> bytes:
    """A PEP 691 project page listing (filename, url, sha256 or None)."""
    return json.dumps({"meta": {"api-version": "1.0"}, "name": project, "files": [
        {"filename": name, "url": url, "hashes": {"sha256": sha} if sha else {}}
        for name, url, sha in files]}).encode()


class ScriptedIndex:
    """``routes[path] = (content_type, body)``; ``held`` paths wait for /__release.
    ``log`` lists every path asked, in order."""

    def __init__(self):
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.held: set[str] = set()
        self.log: list[str] = []
        self.released = threading.Event()
        self.origin = ""

    def handler(self):
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                index.log.append(self.path)
                if self.path == "/__release":
                    index.released.set()
                    return self._send(200, "text/plain", b"released")
                if self.path in index.held:
                    index.released.wait(30)
                if self.path not in index.routes:
                    return self._send(404, "text/plain", b"not here")
                self._send(200, *index.routes[self.path])

            def _send(self, status, ctype, body):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@contextlib.contextmanager
def scripted_index():
    """A running ScriptedIndex on a free 127.0.0.1 port (``.origin`` set)."""
    index = ScriptedIndex()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), index.handler())
    server.daemon_threads = True
    server.handle_error = lambda *a: None  # the page aborted a held request: expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    index.origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield index
    finally:
        index.released.set()
        server.shutdown()
        server.server_close()


def serve_project(index, name: str, files_at: str, tmp_path, *, wheel_too=True,
                  version: str = "1.0.0") -> str:
    """Put project ``name`` (one wheel) on ``index``, its wheel URL pointing at
    ``files_at``; the wheel and its .metadata are served by ``index`` only when
    ``wheel_too``. Returns the wheel's file name."""
    from .browser import make_wheel

    wheel = make_wheel(tmp_path / name / version, name, version, {f"{name.replace('-', '_')}/__init__.py": "OK = True\n"})
    data = wheel.read_bytes()
    index.routes[f"/simple/{name}/"] = (PEP691, pep691_page(
        name, [(wheel.name, f"{files_at}/files/{wheel.name}", hashlib.sha256(data).hexdigest())]))
    if wheel_too:
        with zipfile.ZipFile(wheel) as zf:
            metadata = zf.read(f"{name.replace('-', '_')}-{version}.dist-info/METADATA")
        index.routes[f"/files/{wheel.name}"] = ("application/octet-stream", data)
        index.routes[f"/files/{wheel.name}.metadata"] = ("text/plain", metadata)
    return wheel.name
