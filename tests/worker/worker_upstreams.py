"""Constants and the HTML-only upstream handler shared by the Worker tests and their fixtures."""

from __future__ import annotations

import hashlib
import http.server
import json
import random
import time

HUGE_SIZE = 6 * 1024 * 1024
HUGE_NAME = "mm_huge-1.0.0-py3-none-any.whl"
STALL_HEAD = 256 * 1024  # bytes sent before the stall
STALL_SECONDS = 2.0


HTML_FILE = b"not really a wheel, but bytes to compare\n" * 100
HTML_SHA = hashlib.sha256(HTML_FILE).hexdigest()
STALL_FILE = random.Random(11).randbytes(STALL_HEAD * 2)
LOCAL_FILE = b"a wheel whose version has a local part (+cpu)\n" * 50
EPOCH_FILE = b"an sdist whose version has an epoch (1!)\n" * 50

# A fake Pyodide distribution under three bases: one answering 500, "a" with the core files,
# "b" with one more file, so a file only in "b" costs the Worker three upstream requests.
PYODIDE_VERSION = "v0.99.1"
PYODIDE_A = {
    "pyodide.mjs": b"export const loadPyodide = () => 'not really pyodide';\n",
    "pyodide.asm.wasm": b"\x00asm\x01\x00\x00\x00" + random.Random(5).randbytes(4096),
    "pyodide-lock.json": b'{"info": {"version": "0.99.1"}, "packages": {}}',
    "console.html": b"<script>alert(1)</script>",
}
PYODIDE_B = {"only_in_b-1.0-py3-none-any.whl": b"PK only in b\n" * 10}

EVIL_PAGE = (
    "<!DOCTYPE html><html><head><base href='/deep/base/'></head><body>\n"
    '<a href="javascript:alert(1)">mm_evil-1.0-py3-none-any.whl</a>\n'
    '<a href=" JavaScript:alert(2)">mm_evil-1.1-py3-none-any.whl</a>\n'
    '<a href="data:text/html,<script>alert(3)</script>">mm_evil-1.2-py3-none-any.whl</a>\n'
    '<a href="../../packages/mm_evil-2.0%2Bcpu-py3-none-any.whl?token=abc#sha256=00">mm_evil-2.0+cpu-py3-none-any.whl</a>\n'
    '<a href="mm_evil-3.0-py3-none-any.whl">mm_evil-3.0-py3-none-any.whl</a>\n'
    "</body></html>\n"
)


class HtmlMirror(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]  # set on the subclass made per server

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.seen.append(self.path)
        origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/simple/mm-html/":
            page = (
                "<!DOCTYPE html><html><body><h1>Links for mm-html</h1>\n"
                f'<a href="../../packages/ab/cd/mm_html-1.0-py3-none-any.whl#sha256={HTML_SHA}" '
                'data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=00ff">'
                "mm_html-1.0-py3-none-any.whl</a><br/>\n"
                f"<a href='{origin}/packages/ef/mm_html-0.9-py3-none-any.whl' data-yanked='broken'>"
                "mm_html-0.9-py3-none-any.whl</a><br/>\n"
                '<a href="https://elsewhere.invalid/x/mm_html-0.8.tar.gz">mm_html-0.8.tar.gz</a>\n'
                "</body></html>\n"
            )
            self._send(200, page.encode(), "text/html")
        elif self.path == "/pypi/mm-html/json":
            url = f"{origin}/packages/ab/cd/mm_html-1.0-py3-none-any.whl"
            entry = {"filename": "mm_html-1.0-py3-none-any.whl", "url": url, "digests": {"sha256": HTML_SHA}}
            data = {"info": {"name": "mm-html", "version": "1.0"}, "urls": [entry], "releases": {"1.0": [entry]}}
            self._send(200, json.dumps(data).encode(), "application/json")
        elif self.path == "/packages/ab/cd/mm_html-1.0-py3-none-any.whl":
            self._send(200, HTML_FILE, "application/octet-stream")
        elif self.path == "/simple/":
            self._send(200, b"<html><body><a href='mm-html/'>mm-html</a>\n<a href='/simple/MM_Evil/'>MM_Evil</a></body></html>", "text/html")
        elif self.path == "/json-only/simple/":  # an index whose root listing is JSON only
            data = {"meta": {"api-version": "1.0"}, "projects": [{"name": "MM_Json"}, {"name": "<b>x"}]}
            self._send(200, json.dumps(data).encode(), "application/vnd.pypi.simple.v1+json")
        elif self.path == "/simple/mm-evil/":
            self._send(200, EVIL_PAGE.encode(), "text/html")
        elif self.path == "/pypi/mm-html/1.0/json":
            url = f"{origin}/packages/ab/cd/mm_html-1.0-py3-none-any.whl"
            entry = {"filename": "mm_html-1.0-py3-none-any.whl", "url": url, "digests": {"sha256": HTML_SHA}}
            data = {"info": {"name": "mm-html", "version": "1.0"}, "urls": [entry, {"filename": "x", "url": "javascript:alert(1)"}]}
            self._send(200, json.dumps(data).encode(), "application/json")
        elif self.path == "/packages/ab/cd/mm_html-1.0%2Bcpu-py3-none-any.whl":
            self._send(200, LOCAL_FILE, "application/octet-stream")
        elif self.path == "/packages/mm_html-1%211.0.tar.gz":
            self._send(200, EPOCH_FILE, "application/octet-stream")
        elif self.path.startswith("/pyodide-500/"):
            self._send(500, b"broken", "text/plain")
        elif self.path.startswith((f"/pyodide-a/{PYODIDE_VERSION}/full/", f"/pyodide-a/{PYODIDE_VERSION}/debug/")) \
                and self.path.rsplit("/", 1)[1] in PYODIDE_A:
            self._send(200, PYODIDE_A[self.path.rsplit("/", 1)[1]], "application/octet-stream")
        elif self.path.startswith(f"/pyodide-b/{PYODIDE_VERSION}/full/") and self.path.rsplit("/", 1)[1] in PYODIDE_B:
            self._send(200, PYODIDE_B[self.path.rsplit("/", 1)[1]], "application/octet-stream")
        elif self.path == "/simple/mm-error/":
            self._send(500, b"internal error", "text/plain")
        elif self.path.startswith("/simple/mm-hang/"):
            time.sleep(30)  # longer than the Worker's timeout in these tests
        elif self.path == "/packages/stall/mm_stall-1.0-py3-none-any.whl":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(STALL_FILE)))
            self.end_headers()
            self.wfile.write(STALL_FILE[:STALL_HEAD])
            self.wfile.flush()
            time.sleep(STALL_SECONDS)
            self.wfile.write(STALL_FILE[STALL_HEAD:])
        else:
            self._send(404, b"no such page", "text/plain")


