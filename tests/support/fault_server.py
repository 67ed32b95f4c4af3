"""One stdlib process serving every fault mode, each on its own loopback port.

Why one process: ~15 misbehaving "mirrors" cost one interpreter start, and a
shared in-memory request log tells tests which mirror got which requests
(``GET /__log`` and ``POST /__log/clear`` on the control port).

Each mode is a separate port, so a separate origin, and sends CORS headers
unless the mode is about CORS.  Modes that need real answers proxy an upstream
index (simple-repository-server, URLs of the form ``<origin>/simple/<name>/``
and ``<origin>/resources/<name>/<file>``).

Run as a script: ``python fault_server.py CONFIG_JSON`` where the config is
``{"upstream": ORIGIN, "tampered_dir": DIR, "slow_seconds": 3, "stall_seconds": 6,
"proxies": {name: {"upstream": ORIGIN, "cors": bool}}, "shape_dirs": [DIR, ...]}``
(``shape_dirs``: the project folders the shaped_index.py servers render).  It prints one JSON
line ``{"control": PORT, "ports": {name: PORT}}`` once every port is bound, and
exits when its stdin closes (so it never outlives the test run) or on SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

if __package__:
    from .cors_proxy import BaseHandler, ProxyHandler, Server, cors_proxy_handler, start_server
    from .shaped_index import start_shaped_servers
else:  # run as a script
    from cors_proxy import BaseHandler, ProxyHandler, Server, cors_proxy_handler, start_server
    from shaped_index import start_shaped_servers

PEP691 = "application/vnd.pypi.simple.v1+json"
CAPTIVE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Hotel WiFi - Log in</title></head>"
    b"<body><h1>Welcome! Please log in to continue</h1>"
    b'<form method="post" action="/login"><input name="room"><button>Connect</button></form>'
    b"</body></html>"
)

MODES = [
    "blackhole",
    "http-404",
    "http-429",
    "http-500",
    "http-503",
    "captive",
    "truncated-json",
    "cut-connection",
    "wrong-type-text",
    "wrong-type-octet",
    "stale",
    "tampered",
    "redirect-loop",
    "slow",
    "stall",
    "no-cors",
]


# --- request log ---------------------------------------------------------------------------

class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self.entries: list[dict] = []

    def add(self, entry: dict):
        with self._lock:
            self.entries.append(entry)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.entries)

    def clear(self):
        with self._lock:
            self.entries.clear()


# --- helpers ----------------------------------------------------------------------------------

def wheel_version(filename: str) -> str:
    """Version field of a wheel/sdist file name (``mm_app-2.0.0-py3-none-any.whl`` -> 2.0.0)."""
    stem = re.sub(r"(\.whl|\.tar\.gz|\.zip)(\.metadata)?$", "", filename)
    parts = stem.split("-")
    return parts[1] if len(parts) > 1 else ""


def version_key(version: str):
    return tuple(int(n) for n in re.findall(r"\d+", version))


def newest(filenames) -> str | None:
    versions = {wheel_version(f) for f in filenames if wheel_version(f)}
    return max(versions, key=version_key) if versions else None


def is_index_path(path: str) -> bool:
    return urlsplit(path).path.startswith("/simple")


def json_headers(headers, content_type):
    return [(k, v) for k, v in headers if k.lower() != "content-type"] + [("Content-Type", content_type)]


# --- modes ------------------------------------------------------------------------------------

class StatusHandler(BaseHandler):
    """Every path answers ``status`` (with Retry-After for 429/503)."""

    status = 500

    def do_GET(self):
        extra = {"Retry-After": "1"} if self.status in (429, 503) else {}
        body = f"mm fault server: HTTP {self.status}\n".encode()
        self.send_simple(self.status, body, "text/plain; charset=utf-8", extra)

    do_HEAD = do_GET


class CaptiveHandler(BaseHandler):
    """A captive portal: 200 text/html login page for every path."""

    def do_GET(self):
        self.send_simple(200, CAPTIVE_PAGE, "text/html; charset=utf-8")

    do_HEAD = do_GET


class RedirectLoopHandler(BaseHandler):
    """Every path redirects to itself with a new query string, forever."""

    def do_GET(self):
        parts = urlsplit(self.path)
        match = re.search(r"mm-loop=(\d+)", parts.query or "")
        n = int(match.group(1)) + 1 if match else 1
        self.send_simple(302, b"", "text/plain", {"Location": f"{parts.path}?mm-loop={n}"})

    do_HEAD = do_GET


class IndexJsonProxy(ProxyHandler):
    """Index pages fetched from upstream as PEP 691 JSON, whatever the client asked."""

    def buffer_path(self, path):
        return is_index_path(path)

    def upstream_headers(self):
        headers = super().upstream_headers()
        if is_index_path(self.path):
            headers = {k: v for k, v in headers.items() if k.lower() != "accept"}
            headers["Accept"] = PEP691
        return headers


class TruncatedJsonHandler(IndexJsonProxy):
    """PEP 691 content type, body cut in half (Content-Length matches: valid HTTP, bad JSON)."""

    def rewrite(self, path, status, headers, body):
        return status, json_headers(headers, PEP691), body[: max(1, len(body) // 2)]


class CutConnectionHandler(IndexJsonProxy):
    """Declares the full Content-Length, sends half the body, then drops the connection."""

    def rewrite(self, path, status, headers, body):
        self.send_response(status)
        self.send_header("Content-Type", PEP691)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return status, headers, None


class StallHandler(IndexJsonProxy):
    """Answers at once with the full Content-Length and half the page, then stays silent for
    ``stall_seconds`` before sending the rest: a mirror whose answer stops arriving."""

    stall_seconds = 6.0

    def rewrite(self, path, status, headers, body):
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return status, headers, None
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(self.stall_seconds)
        self.wfile.write(body[len(body) // 2:])
        return status, headers, None


class WrongTypeHandler(IndexJsonProxy):
    """Valid PEP 691 JSON index pages labelled with a wrong content type."""

    label = "text/plain; charset=utf-8"

    def rewrite(self, path, status, headers, body):
        return status, json_headers(headers, self.label), body


class StaleHandler(ProxyHandler):
    """A lagging mirror: the newest version of every project is missing (pages and files)."""

    def buffer_path(self, path):
        return is_index_path(path)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.startswith("/resources/"):
            project = path.split("/")[2]
            if wheel_version(path.rsplit("/", 1)[-1]) == self._newest_of(project):
                self.send_simple(404, b"not on this mirror yet\n", "text/plain")
                return
        self.forward()

    do_HEAD = do_GET

    def _newest_of(self, project: str) -> str | None:
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        try:
            conn.request("GET", f"/simple/{project}/", headers={"Accept": PEP691})
            resp = conn.getresponse()
            if resp.status != 200:
                return None
            return newest(f["filename"] for f in json.loads(resp.read())["files"])
        finally:
            conn.close()

    def rewrite(self, path, status, headers, body):
        if status != 200:
            return status, headers, body
        ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        if "json" in ctype:
            data = json.loads(body)
            if "files" in data:
                top = newest(f["filename"] for f in data["files"])
                data["files"] = [f for f in data["files"] if wheel_version(f["filename"]) != top]
                if "versions" in data:
                    data["versions"] = [v for v in data["versions"] if v != top]
                body = json.dumps(data).encode()
        elif "html" in ctype:
            text = body.decode()
            anchors = re.findall(r"<a [^>]*>([^<]+)</a>", text)
            top = newest(a for a in anchors if a.endswith((".whl", ".tar.gz", ".zip")))
            if top:
                text = re.sub(
                    r"<a [^>]*>([^<]+)</a>(<br\s*/?>)?\n?",
                    lambda m: "" if wheel_version(m.group(1)) == top else m.group(0),
                    text,
                )
            body = text.encode()
        return status, headers, body


class TamperedHandler(ProxyHandler):
    """Index answers from upstream (genuine sha256), wheel bytes from the tampered copies."""

    tampered_dir = ""

    def do_GET(self):
        path = urlsplit(self.path).path
        parts = path.split("/")
        if path.startswith("/resources/") and len(parts) == 4 and parts[3].endswith(".whl"):
            file = Path(self.tampered_dir) / parts[2] / parts[3]
            if file.is_file():
                self.send_simple(200, file.read_bytes(), "application/octet-stream")
                return
        self.forward()

    do_HEAD = do_GET


class Blackhole:
    """Accepts connections and never answers.  Holds them until ``shutdown``."""

    def __init__(self, name: str, log_sink):
        self.name = name
        self.log_sink = log_sink
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.server_port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, name="blackhole", daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)
            threading.Thread(target=self._note, args=(conn,), daemon=True).start()

    def _note(self, conn):
        """Read the request line only to log it; never write a byte."""
        conn.settimeout(5)
        try:
            line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1").split()
        except OSError:
            line = []
        method, path = (line[0], line[1]) if len(line) >= 2 else (None, None)
        self.log_sink({"server": self.name, "method": method, "path": path, "status": None, "time": time.time()})

    def shutdown(self):
        self.stopped.set()
        for conn in self.held + [self.sock]:
            try:
                conn.close()
            except OSError:
                pass

    def server_close(self):
        pass


def make_control_handler(log: RequestLog, ports: dict):
    class Control(BaseHandler):
        def do_GET(self):
            if self.path.startswith("/__log"):
                self.send_simple(200, json.dumps(log.snapshot()).encode(), "application/json")
            elif self.path.startswith("/__ports"):
                self.send_simple(200, json.dumps(ports).encode(), "application/json")
            else:
                self.send_simple(404, b"", "text/plain")

        def do_POST(self):
            if self.path.startswith("/__log/clear"):
                log.clear()
                self.send_simple(200, b"[]", "application/json")
            else:
                self.send_simple(404, b"", "text/plain")

    return Control


# --- the process --------------------------------------------------------------------------------

def mode_handler(mode: str, config: dict):
    upstream = config["upstream"].rstrip("/")
    bind = lambda cls, **attrs: type(cls.__name__, (cls,), {"upstream": upstream, **attrs})  # noqa: E731
    table = {
        "http-404": lambda: type("S404", (StatusHandler,), {"status": 404}),
        "http-429": lambda: type("S429", (StatusHandler,), {"status": 429}),
        "http-500": lambda: type("S500", (StatusHandler,), {"status": 500}),
        "http-503": lambda: type("S503", (StatusHandler,), {"status": 503}),
        "captive": lambda: CaptiveHandler,
        "truncated-json": lambda: bind(TruncatedJsonHandler),
        "cut-connection": lambda: bind(CutConnectionHandler),
        "wrong-type-text": lambda: bind(WrongTypeHandler),
        "wrong-type-octet": lambda: bind(WrongTypeHandler, label="application/octet-stream"),
        "stale": lambda: bind(StaleHandler),
        "tampered": lambda: bind(TamperedHandler, tampered_dir=config["tampered_dir"]),
        "redirect-loop": lambda: RedirectLoopHandler,
        "slow": lambda: bind(ProxyHandler, delay=float(config.get("slow_seconds", 3))),
        "stall": lambda: bind(StallHandler, stall_seconds=float(config.get("stall_seconds", 6))),
        "no-cors": lambda: bind(ProxyHandler, cors=False),
    }
    return table[mode]()


class FaultServers:
    """All modes plus extra CORS proxies, in this process (threads)."""

    def __init__(self, config: dict):
        self.log = RequestLog()
        self.servers: dict[str, Server | Blackhole] = {}
        for mode in MODES:
            if mode == "blackhole":
                self.servers[mode] = Blackhole(mode, self.log.add)
            else:
                self.servers[mode] = start_server(mode_handler(mode, config), mode, self.log.add)
        for name, spec in config.get("proxies", {}).items():
            handler = cors_proxy_handler(spec["upstream"], cors=spec.get("cors", True))
            self.servers[name] = start_server(handler, name, self.log.add)
        if config.get("shape_dirs"):
            self.servers.update(start_shaped_servers(config["shape_dirs"], start_server, self.log.add))
        self.ports = {name: s.server_port for name, s in self.servers.items()}
        self.control = start_server(make_control_handler(self.log, self.ports), "control")

    def close(self):
        """Stop every server at once (serve_forever polls every 0.5 s; one by one is slow)."""
        servers = list(self.servers.values()) + [self.control]
        threads = [threading.Thread(target=s.shutdown) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for server in servers:
            server.server_close()


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    servers = FaultServers(config)
    print(json.dumps({"control": servers.control.server_port, "ports": servers.ports}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.5):
        pass
    os._exit(0)  # held blackhole sockets and sleeping handlers must not delay exit


if __name__ == "__main__":
    main(sys.argv)
