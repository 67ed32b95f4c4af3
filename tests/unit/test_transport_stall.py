"""Timeouts measure silence, not size: a body that keeps arriving is read to the end
however long it takes, a body that stops arriving fails after ``timeout``, and
``total`` caps everything. A real local HTTP server trickles the bytes."""

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from micropip_mirror.errors import AttemptFailed
from micropip_mirror.transport import UrllibTransport

PIECE = b"x" * 8192


class Trickle(BaseHTTPRequestHandler):
    """/steady/N: N pieces, one every 0.1 s; /stall: one piece, then 3 s of silence."""

    def do_GET(self):
        pieces = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/steady/") else 2
        self.send_response(200)
        self.send_header("Content-Length", str(len(PIECE) * pieces))
        self.end_headers()
        for i in range(pieces):
            if self.path == "/stall" and i == 1:
                time.sleep(3)
            elif i:
                time.sleep(0.1)
            try:
                self.wfile.write(PIECE)
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def fetch(url, timeout, total=None):
    return asyncio.run(UrllibTransport().fetch(url, headers={}, timeout=timeout, total=total))


def test_a_body_that_keeps_arriving_is_not_cut_off(server):
    # 25 pieces over ~2.4 s with a 1 s stall limit: longer than the limit, never silent that long.
    resp = fetch(f"{server}/steady/25", timeout=1.0)
    assert resp.status == 200 and resp.body == PIECE * 25


def test_a_body_that_stops_arriving_fails_after_the_stall_limit(server):
    with pytest.raises(AttemptFailed, match="timeout after 1 s"):
        fetch(f"{server}/stall", timeout=1.0)


def test_the_total_cap_ends_even_a_steady_body(server):
    with pytest.raises(AttemptFailed, match="took over 1 s in all"):
        fetch(f"{server}/steady/40", timeout=1.0, total=1.0)
