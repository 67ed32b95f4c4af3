"""Load on the Worker in workerd (loopback only): many concurrent project-page requests and large
downloads read by deliberately slow clients, while a cached file is re-served; every answer is
checked byte for byte, and workerd's peak memory (VmHWM) is reported.

    python bench/worker_load.py                    # 200 pages, 20 x 20 MB slow downloads
    python bench/worker_load.py --pages 50 --downloads 4 --size-mb 4

Why: the Worker tees files into the Cache API; a tee fed by a fast upstream and drained by a
slow client could hold whole files in the Worker's memory. The figures go in worker/README.md;
tests/worker/test_load.py runs a small bounded version. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.server
import json
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.worker_mirror import WorkerMirror, worker_mirror  # noqa: E402

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
CACHED_NAME = "cached-1.0-py3-none-any.whl"


def make_upstream(big: bytes, cached: bytes, downloads: int):
    """A fast stdlib index: one project page listing the big files, the files themselves."""
    names = [f"big{i}-1.0-py3-none-any.whl" for i in range(downloads)]
    links = "".join(f'<a href="/packages/{n}#sha256={hashlib.sha256(big).hexdigest()}">{n}</a>\n'
                    for n in names)
    page = f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
    files = {f"/packages/{n}": big for n in names} | {f"/packages/{CACHED_NAME}": cached}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = page if self.path == "/simple/mm-load/" else files.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if body is page else "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            view = memoryview(body)
            for at in range(0, len(body), 1 << 20):
                self.wfile.write(view[at:at + (1 << 20)])

    # pypi.org does not refuse connections: a deep accept queue. With socketserver's default of
    # 5, one run of 200 concurrent pages had 6 answered 502 (upstream connection failures).
    server_class = type("Server", (http.server.ThreadingHTTPServer,), {"request_queue_size": 1024})
    server = server_class(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, names


async def fetch(origin: str, path: str, accept: str = "*/*", chunk: int = 1 << 16,
                delay: float = 0.0) -> tuple[int, bytes, dict]:
    """GET over a fresh connection; with `delay`, read `chunk` bytes at a time, sleeping between
    reads (a slow client: TCP backpressure reaches workerd)."""
    host, port = origin.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 16)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
                 "Accept-Encoding: identity\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
    parts = []

    async def take(n: int) -> None:  # n bytes, `chunk` at a time, slowly if asked
        while n > 0:
            data = await reader.readexactly(min(chunk, n))
            parts.append(data)
            n -= len(data)
            if delay:
                await asyncio.sleep(delay)

    if b"content-length" in headers:
        await take(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await take(size)
            await reader.readexactly(2)
    else:
        parts.append(await reader.read())
    writer.close()
    return status, b"".join(parts), headers


def workerd_pid(mirror: WorkerMirror) -> int:
    """The workerd process Miniflare started under serve.mjs."""
    for child in Path(f"/proc/{mirror.process.pid}/task").glob("*/children"):
        for pid in child.read_text().split():
            if "workerd" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return int(pid)
    raise RuntimeError("workerd not found under serve.mjs")


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


async def _load(origin: str, names: list[str], big: bytes, cached: bytes, pages: int,
                slow_chunk: int, slow_delay: float, rereads: int) -> dict:
    page_path = "/pypi/simple/mm-load/"
    # warm the cached file (and give the Cache API time to store it)
    status, body, _ = await fetch(origin, f"/files/packages/{CACHED_NAME}")
    assert status == 200 and body == cached
    await asyncio.sleep(1.0)
    started = time.monotonic()
    page_tasks = [fetch(origin, page_path, JSON_TYPE) for _ in range(pages)]
    file_tasks = [fetch(origin, f"/files/packages/{n}", chunk=slow_chunk, delay=slow_delay) for n in names]

    async def reread():
        results = []
        for _ in range(rereads):
            results.append(await fetch(origin, f"/files/packages/{CACHED_NAME}"))
        return results

    page_results, file_results, reread_results = await asyncio.gather(
        asyncio.gather(*page_tasks), asyncio.gather(*file_tasks), reread())
    elapsed = time.monotonic() - started
    errors = []
    first_page = page_results[0][1]
    listed = [f["filename"] for f in json.loads(first_page)["files"]] if page_results[0][0] == 200 else []
    if sorted(listed) != sorted(names):
        errors.append(f"page lists {listed[:3]}...")
    errors += [f"page {i}: {s} {b[:200]!r}" for i, (s, b, _) in enumerate(page_results) if s != 200 or b != first_page]
    errors += [f"file {n}: {s}, {len(b)} bytes" for n, (s, b, _) in zip(names, file_results) if s != 200 or b != big]
    errors += [f"cached re-read {i}: {s}" for i, (s, b, _) in enumerate(reread_results) if s != 200 or b != cached]
    hits = sum(h.get(b"x-mirror-cache") == b"hit" for _, _, h in reread_results)
    return {"errors": errors, "seconds": round(elapsed, 1), "cache_hits": hits}


def run_load(pages: int = 200, downloads: int = 20, size_mb: int = 20, slow_chunk: int = 64 * 1024,
             slow_delay: float = 0.02, rereads: int = 20, target: str = "worker") -> dict:
    """Start an upstream and the Worker (or Snippet), run the load, return the figures."""
    big = random.Random(13).randbytes(size_mb << 20)
    cached = random.Random(17).randbytes(1 << 20)
    server, names = make_upstream(big, cached, downloads)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with worker_mirror(origin, target=target) as mirror:
            pid = workerd_pid(mirror)
            before = memory_kib(pid)
            result = asyncio.run(_load(mirror.origin, names, big, cached, pages, slow_chunk,
                                       slow_delay, rereads))
            after = memory_kib(pid)
    finally:
        server.shutdown()
        server.server_close()
    return {
        "target": target, "pages": pages, "downloads": downloads, "size_mb": size_mb,
        "slow_client_mb_per_s": round(slow_chunk / slow_delay / (1 << 20), 1) if slow_delay else None,
        "cached_rereads": rereads, "cache_hits": result["cache_hits"], "errors": result["errors"], "seconds": result["seconds"],
        "workerd_rss_before_mib": round(before["VmHWM"] / 1024, 1),
        "workerd_peak_rss_mib": round(after["VmHWM"] / 1024, 1),
        "bytes_served_mib": downloads * size_mb + rereads + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--downloads", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--slow-delay", type=float, default=0.02, help="seconds between 64 KiB reads")
    parser.add_argument("--target", choices=["worker", "snippet"], default="worker")
    args = parser.parse_args()
    figures = run_load(args.pages, args.downloads, args.size_mb, slow_delay=args.slow_delay,
                       target=args.target)
    print(json.dumps(figures, indent=2))
    sys.exit(1 if figures["errors"] else 0)


if __name__ == "__main__":
    main()
