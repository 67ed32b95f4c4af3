"""A scripted transport for CPython logic tests, and a real wheel built in memory."""

import asyncio
import hashlib
import io
import zipfile

from micropip_mirror.errors import AttemptFailed
from micropip_mirror.transport import Response


class Scripted:
    """Answers by URL: a Response, bytes (200), an AttemptFailed, or a
    (delay_seconds, answer) pair. Unknown URLs get 404. Records every URL asked."""

    def __init__(self, routes=None):
        self.routes = dict(routes or {})
        self.asked: list[str] = []
        self.cancelled: list[str] = []

    async def fetch(self, url, *, headers, timeout, total=None, on_answer=None):
        self.asked.append(url)
        answer = self.routes.get(url, Response(url, 404, {}, b"not found"))
        delay = 0.0
        if isinstance(answer, tuple):
            delay, answer = answer
        try:
            if delay >= timeout:
                await asyncio.sleep(timeout)
                raise AttemptFailed(f"timeout after {timeout:g} s")
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled.append(url)
            raise
        if isinstance(answer, AttemptFailed):
            raise AttemptFailed(answer.reason)
        if isinstance(answer, bytes):
            answer = Response(url, 200, {"content-type": "application/octet-stream"}, answer)
        if on_answer:
            on_answer()
        return answer


class Streaming(Scripted):
    """Scripted, where a route may also be (start, end, answer): silent until
    ``start`` seconds, then answering (on_answer) until the body is complete
    at ``end`` seconds, like a server streaming a large file."""

    async def fetch(self, url, *, headers, timeout, total=None, on_answer=None):
        answer = self.routes.get(url)
        if not (isinstance(answer, tuple) and len(answer) == 3):
            return await super().fetch(url, headers=headers, timeout=timeout,
                                       total=total, on_answer=on_answer)
        self.asked.append(url)
        start, end, answer = answer
        try:
            await asyncio.sleep(start)
            on_answer and on_answer()
            await asyncio.sleep(end - start)
        except asyncio.CancelledError:
            self.cancelled.append(url)
            raise
        if isinstance(answer, bytes):
            answer = Response(url, 200, {"content-type": "application/octet-stream"}, answer)
        return answer


def page(url, body, ctype="application/vnd.pypi.simple.v1+json", status=200):
    return Response(url, status, {"content-type": ctype}, body)


def wheel(name="demo_pkg", version="2.0.0", genuine=True, metadata=None) -> bytes:
    """A minimal valid wheel micropip can read the metadata of (``metadata``:
    the METADATA text, by default name and version only)."""
    buf = io.BytesIO()
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}/__init__.py", f"GENUINE = {genuine}\n")
        zf.writestr(f"{dist}/METADATA", metadata or
                    f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
