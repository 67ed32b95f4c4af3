"""A traffic-shaping reverse proxy: per-request latency and bandwidth in front of
one upstream origin, so each benchmark "mirror" is its own origin with its own
network conditions.

Why our own and not the fleet's `slow` mode: the benchmark needs the same
latency on every mirror (30 ms, like a nearby CDN), a bandwidth cap that makes a
1 MB wheel cost real time, and a 2 s mirror, all from one piece of code.

PEP 691 JSON answers get absolute file URLs, as pypi.org and real mirrors
give them: simple-repository-server's relative ones (``../../resources/...``)
are not resolved by plain micropip 0.11 for JSON (only for HTML), and the
benchmark is about the network, not that bug.

Every answer gets ``Cache-Control: no-store`` so the browser's HTTP cache never
helps a contender: a fresh page is a cold page.  Headers (CORS included) are
passed through, so a shaper in front of a no-CORS server lacks CORS too.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
from urllib.parse import urljoin, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "cache-control", "etag",
              "last-modified", "expires", "content-length"}
CHUNK = 16 * 1024


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

    def log_message(self, *args):
        pass

    def _forward(self):
        time.sleep(self.latency)
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            status, out_headers = resp.status, resp.getheaders()
        except OSError as e:
            status, out_headers, body = 502, [("Content-Type", "text/plain")], f"shaper: {e}\n".encode()
        finally:
            conn.close()
        ctype = dict((k.lower(), v) for k, v in out_headers).get("content-type", "")
        if status == 200 and "vnd.pypi.simple.v1+json" in ctype:
            body = self._absolute_urls(body)
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

    def _absolute_urls(self, body: bytes) -> bytes:
        page = f"http://{self.headers.get('Host')}{self.path}"
        try:
            data = json.loads(body)
            for entry in data.get("files", []):
                entry["url"] = urljoin(page, entry["url"])
        except (ValueError, AttributeError, TypeError):
            return body
        return json.dumps(data).encode()

    do_GET = do_HEAD = do_OPTIONS = _forward


class Shaper:
    """``with Shaper(upstream, latency=0.03, bandwidth=2e6) as s: s.origin``"""

    def __init__(self, upstream: str, latency: float = 0.03, bandwidth: float = 2e6):
        handler = type("Shaped", (_Handler,), {"upstream": upstream.rstrip("/"), "latency": latency,
                                               "bandwidth": bandwidth})
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
