"""A small streaming reverse proxy that adds CORS headers (stdlib only).

Why: the real index servers (simple-repository-server, pypiserver) send no CORS
headers, so a page on another loopback port (another origin) cannot read them.
Putting this proxy in front makes them behave like pypi.org (CORS on) while the
bare server stays available as the "no CORS" case.

The proxy passes status codes and bodies through (streamed in chunks), rewrites
redirects that point at the upstream's own origin so they stay on the proxy, and
answers OPTIONS preflights itself.  ``ProxyHandler`` is also the base of the
fault modes that proxy an upstream (stale, tampered, slow, wrong type...).
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
}
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "*",
}
CHUNK = 64 * 1024


class Server(http.server.ThreadingHTTPServer):
    """Threaded server that never waits for handler threads on close.

    A blackholed or slow request must not hold up shutdown.
    """

    daemon_threads = True
    block_on_close = False
    name = "server"
    log_sink = None  # callable(dict) or None

    def log_request_entry(self, method, path, status):
        if self.log_sink is not None:
            self.log_sink(
                {"server": self.name, "method": method, "path": path, "status": status, "time": time.time()}
            )


class BaseHandler(http.server.BaseHTTPRequestHandler):
    """Shared plumbing: CORS on/off, request log, quiet stderr."""

    protocol_version = "HTTP/1.1"
    cors = True
    server: Server

    def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
        pass

    def send_response(self, code, message=None):
        super().send_response(code, message)
        self.server.log_request_entry(self.command, self.path, code)
        if self.cors:
            for key, value in CORS_HEADERS.items():
                self.send_header(key, value)

    def send_simple(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_OPTIONS(self):
        if not self.cors:
            self.send_simple(405, b"", "text/plain")
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header(
            "Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", "*")
        )
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()


class ProxyHandler(BaseHandler):
    """Forward every GET/HEAD to ``upstream`` (an origin like http://127.0.0.1:P).

    Subclasses override ``rewrite(path, status, headers, body)`` and set
    ``buffer_path(path)`` to True for the responses they need whole.
    """

    upstream = ""  # set per server class
    delay = 0.0

    def buffer_path(self, path: str) -> bool:
        return False

    def rewrite(self, path, status, headers, body):
        return status, headers, body

    def upstream_headers(self) -> dict:
        return {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}

    def do_GET(self):
        if self.delay:
            time.sleep(self.delay)
        self.forward()

    do_HEAD = do_GET

    def forward(self, path: str | None = None, headers: dict | None = None):
        path = path or self.path
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            conn.request(self.command, path, headers=headers or self.upstream_headers())
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            self.send_simple(502, f"upstream unreachable: {exc}".encode(), "text/plain")
            return
        try:
            out_headers = [
                (k, self._fix_location(v) if k.lower() == "location" else v)
                for k, v in resp.getheaders()
                if k.lower() not in HOP_BY_HOP and not k.lower().startswith("access-control-")
            ]
            if self.buffer_path(path):
                body = resp.read()
                status, out_headers, body = self.rewrite(path, resp.status, out_headers, body)
                if body is None:
                    return  # rewrite answered by itself
                out_headers = [(k, v) for k, v in out_headers if k.lower() != "content-length"]
                out_headers.append(("Content-Length", str(len(body))))
                self._send_head(status, out_headers)
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            self._send_head(resp.status, out_headers)
            if self.command == "HEAD":
                return
            while chunk := resp.read(CHUNK):
                self.wfile.write(chunk)
        finally:
            conn.close()

    def _send_head(self, status, headers):
        self.send_response(status)
        has_length = False
        for key, value in headers:
            has_length |= key.lower() == "content-length"
            self.send_header(key, value)
        if not has_length and self.command != "HEAD":
            self.close_connection = True  # body ends when the connection closes
            self.send_header("Connection", "close")
        self.end_headers()

    def _fix_location(self, value: str) -> str:
        """Keep redirects on the proxy: the upstream's absolute URLs name its own port."""
        if value.startswith(self.upstream):
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            return f"http://{host}" + value[len(self.upstream) :]
        return value


def start_server(handler_cls, name: str, log_sink=None, port: int = 0) -> Server:
    """Bind ``handler_cls`` on 127.0.0.1 (free port by default) and serve in a daemon thread."""
    server = Server(("127.0.0.1", port), handler_cls)
    server.name = name
    server.log_sink = log_sink
    threading.Thread(target=server.serve_forever, name=f"serve-{name}", daemon=True).start()
    return server


def cors_proxy_handler(upstream: str, cors: bool = True, delay: float = 0.0):
    """A ProxyHandler class bound to ``upstream`` (origin, no trailing slash)."""
    return type(
        "BoundProxy", (ProxyHandler,), {"upstream": upstream.rstrip("/"), "cors": cors, "delay": delay}
    )


def start_proxy(upstream: str, name: str = "proxy", cors: bool = True, log_sink=None) -> Server:
    """Start a CORS proxy for ``upstream``; its origin is http://127.0.0.1:<server.server_port>."""
    return start_server(cors_proxy_handler(upstream, cors=cors), name, log_sink)
