"""A traffic-shaping reverse proxy: per-request latency and bandwidth in front of
one upstream origin, so each benchmark "mirror" is its own origin with its own
network conditions.

Why our own and not the fleet's `slow` mode: the benchmark needs the same
latency on every mirror (30 ms, like a nearby CDN), a bandwidth cap that makes a
1 MB wheel cost real time, and a 2 s mirror, all from one piece of code.

PEP 691 JSON and HTML answers get absolute file URLs, as pypi.org and real mirrors
give them: simple-repository-server's relative ones (``../../resources/...``)
are not resolved by plain micropip 0.11 for JSON (only for HTML) nor by 0.6 at all, and the
benchmark is about the network, not that bug.

Mirror shapes for the scaling curves: ``html=True`` asks the upstream for PEP
503 HTML only (an HTML-only mirror); ``no_metadata=True`` drops every PEP 658
announcement and answers 404 for ``.metadata`` files; ``pad={project: n}`` adds
n PyPI-shaped entries (bench/workloads.py) to that project's page.

Upstream answers are kept in memory (the index does not change during a run),
and ``warm()`` fetches every project's pages and files once before timing: the
fleet's Python servers re-read their folders on every request and, with
hundreds of projects and dozens of parallel requests on a busy machine, would
otherwise make the *server* the bottleneck (seconds per page), not the line
being shaped.

Every answer gets ``Cache-Control: no-store`` so the browser's HTTP cache never
helps a contender: a fresh page is a cold page.  Headers (CORS included) are
passed through, so a shaper in front of a no-CORS server lacks CORS too.
"""

from __future__ import annotations

import concurrent.futures
import functools
import http.client
import http.server
import json
import re
import threading
import time
from urllib.parse import urljoin, urlsplit

import workloads

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "cache-control", "etag",
              "last-modified", "expires", "content-length"}
CHUNK = 16 * 1024
_HREF = re.compile(rb'href="([^"]+)"')
_METADATA_ATTR = re.compile(rb'\s+data-(?:core|dist-info)-metadata="[^"]*"')
_padding = functools.lru_cache(maxsize=8)(workloads.padding)
_padding_html = functools.lru_cache(maxsize=8)(workloads.padding_html)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        pass  # the browser drops connections when a page is replaced: not news


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""        # origin, e.g. http://127.0.0.1:P
    latency = 0.03       # seconds before the answer starts
    bandwidth = 2e6      # bytes per second per answer; 0 = unlimited
    html = False         # ask the upstream for HTML only
    no_metadata = False  # no PEP 658 files
    pad: dict = {}       # project -> extra PyPI-shaped entries on its page
    answers: dict = {}   # (method, path, kind) -> reshaped (status, headers, body), per Shaper

    def log_message(self, *args):
        pass

    def _forward(self):
        time.sleep(self.latency)
        status, out_headers, body = self._answer()
        self.send_response(status)
        for key, value in out_headers:
            if key.lower() not in HOP_BY_HOP:
                if key.lower() == "location" and value.startswith(self.upstream):
                    value = value[len(self.upstream):]
                self.send_header(key, value)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        start = time.monotonic()
        for i in range(0, len(body), CHUNK):
            self.wfile.write(body[i:i + CHUNK])
            if self.bandwidth:
                ahead = start + (i + CHUNK) / self.bandwidth - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    def _answer(self):
        """The (status, headers, body) to send, reshaped; kept for the next identical request."""
        kind = "html" if self.html or "json" not in self.headers.get("Accept", "") else "json"
        key = (self.command, self.path, kind)
        if key in self.answers:
            return self.answers[key]
        if self.no_metadata and self.path.endswith(".metadata"):
            return 404, [("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*")], b"no PEP 658 here\n"
        accept = "text/html" if kind == "html" else self.headers.get("Accept", "")
        status, out_headers, body = upstream_answer(self.upstream, self.command, self.path, accept)
        ctype = dict((k.lower(), v) for k, v in out_headers).get("content-type", "")
        if status == 200 and "vnd.pypi.simple.v1+json" in ctype:
            body = self._reshape_json(body)
        elif status == 200 and "html" in ctype:
            body = self._reshape_html(body)
        if status in (200, 404):
            self.answers[key] = status, out_headers, body
        return status, out_headers, body

    def _padded_project(self) -> str | None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple" and parts[1] in self.pad:
            return parts[1]
        return None

    def _reshape_json(self, body: bytes) -> bytes:
        page = f"http://{self.headers.get('Host')}{self.path}"
        try:
            data = json.loads(body)
            for entry in data.get("files", []):
                entry["url"] = urljoin(page, entry["url"])
            padded = self._padded_project()
            if padded:
                data["files"] = _padding(padded, self.pad[padded]) + data["files"]
            if self.no_metadata:
                data["files"] = [{k: v for k, v in e.items() if k not in ("core-metadata", "data-dist-info-metadata")}
                                 for e in data["files"]]
        except (ValueError, AttributeError, TypeError):
            return body
        return json.dumps(data).encode()

    def _reshape_html(self, body: bytes) -> bytes:
        page = f"http://{self.headers.get('Host')}{self.path}"
        body = _HREF.sub(lambda m: b'href="' + urljoin(page, m.group(1).decode()).encode() + b'"', body)
        padded = self._padded_project()
        if padded and b"</body>" in body:
            head, _, tail = body.rpartition(b"</body>")
            body = head + _padding_html(padded, self.pad[padded]).encode() + b"</body>" + tail
        if self.no_metadata:
            body = _METADATA_ATTR.sub(b"", body)
        return body

    do_GET = do_HEAD = do_OPTIONS = _forward


_RAW: dict = {}  # (upstream, method, path, json|html) -> (status, headers, body), shared by all shapers


def upstream_answer(upstream: str, method: str, path: str, accept: str):
    """The upstream's answer, fetched once per run (404s and 200s are kept)."""
    key = (upstream, method, path, "json" if "json" in accept else "html")
    if key in _RAW:
        return _RAW[key]
    up = urlsplit(upstream)
    conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
    try:
        conn.request(method, path, headers={"Accept": accept} if accept else {})
        resp = conn.getresponse()
        answer = resp.status, resp.getheaders(), resp.read()
    except OSError as e:
        return 502, [("Content-Type", "text/plain")], f"shaper: {e}\n".encode()
    finally:
        conn.close()
    if answer[0] in (200, 404):
        _RAW[key] = answer
    return answer


def warm(upstream: str, projects: list[str], files: dict[str, list[str]], threads: int = 8) -> None:
    """Fetch each project's JSON and HTML page and each file (and its .metadata)
    once, so timed runs never wait for the upstream server itself."""
    json_accept = "application/vnd.pypi.simple.v1+json"
    jobs = [("GET", f"/simple/{p}/", a) for p in projects for a in (json_accept, "text/html")]
    jobs += [("GET", f"/resources/{p}/{f}{m}", "") for p in projects for f in files.get(p, []) for m in ("", ".metadata")]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: upstream_answer(upstream, *job), jobs))


class Shaper:
    """``with Shaper(upstream, latency=0.03, bandwidth=2e6) as s: s.origin``"""

    def __init__(self, upstream: str, latency: float = 0.03, bandwidth: float = 2e6, *,
                 html: bool = False, no_metadata: bool = False, pad: dict | None = None):
        handler = type("Shaped", (_Handler,), {"upstream": upstream.rstrip("/"), "latency": latency,
                                               "bandwidth": bandwidth, "html": html,
                                               "no_metadata": no_metadata, "pad": dict(pad or {}),
                                               "answers": {}})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self) -> "Shaper":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
