"""How bytes are fetched: one request, bounded in silence and in total, and
really cancelled.

``timeout`` is a stall limit: the longest wait for the answer to start and for
each next piece of its body. A body that keeps arriving is read to the end,
however big, unless it takes more than ``total`` seconds in all.
Transports know nothing of mirrors or fallback (that is the router's job); they
turn every way a request can go wrong into AttemptFailed with a short reason.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AttemptFailed

IN_PYODIDE = sys.platform == "emscripten"


@dataclass
class Response:
    url: str  # final URL, after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Stalled(Exception):
    def __init__(self, what: str):
        self.what = what


async def _within(awaitable, seconds: float, what: str):
    """The awaitable's (e.g. a JS promise's) result, or _Stalled if nothing
    came for ``seconds``."""
    async def wait():
        return await awaitable

    try:
        return await asyncio.wait_for(wait(), seconds)
    except (asyncio.TimeoutError, TimeoutError):
        raise _Stalled(what) from None


class JsTransport:
    """fetch() of the JS runtime (browser, Web Worker or Node.js), with an
    AbortController so a timed-out or cancelled request stops on the wire.
    The body is read piece by piece, so silence can be told from size."""

    async def fetch(self, url: str, *, headers: dict[str, str], timeout: float,
                    total: float | None = None,
                    on_answer: Callable[[], None] | None = None) -> Response:
        import js
        from pyodide.ffi import JsException, to_js

        controller = js.AbortController.new()
        options = to_js({"headers": headers, "signal": controller.signal},
                        dict_converter=js.Object.fromEntries)

        async def run() -> Response:
            resp = await _within(js.fetch(url, options), timeout, "no answer")
            if on_answer:
                on_answer()
            names = {k.lower(): v for k, v in js.Object.fromEntries(resp.headers).to_py().items()}
            body = await _read_body(resp, timeout)
            return Response(str(resp.url or url), int(resp.status), names, body)

        try:
            return await asyncio.wait_for(run(), total)
        except _Stalled as e:
            raise AttemptFailed(f"timeout after {timeout:g} s ({e.what})") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise AttemptFailed(f"took over {total:g} s in all") from None
        except JsException as e:
            raise AttemptFailed(f"network or CORS error ({_js_message(e)})") from None
        except OSError as e:  # older Pyodide maps some fetch failures to OSError
            raise AttemptFailed(f"network or CORS error ({e})") from None
        finally:
            controller.abort()  # no-op when finished; stops a request we gave up on


async def _read_body(resp, stall: float) -> bytes:
    """The whole body, each piece awaited for at most ``stall`` seconds."""
    stream = resp.body
    if stream is None or not hasattr(stream, "getReader"):
        return (await _within(resp.arrayBuffer(), stall, "body stalled")).to_bytes()
    reader = stream.getReader()
    chunks: list[bytes] = []
    while True:
        piece = await _within(reader.read(), stall, "body stalled")
        if piece.done:
            return b"".join(chunks)
        chunks.append(piece.value.to_bytes())


def _js_message(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[-1] if text else type(e).__name__


class UrllibTransport:
    """For CPython (tests, tools): urllib in a thread. The socket timeout is the
    stall limit (it bounds each wait on the socket); a cancelled request is
    abandoned, not stopped. Thread safe: it keeps no state, and ``on_answer``
    runs on the caller's event loop, not in the worker thread (the router's
    bookkeeping is not thread safe)."""

    async def fetch(self, url: str, *, headers: dict[str, str], timeout: float,
                    total: float | None = None,
                    on_answer: Callable[[], None] | None = None) -> Response:
        loop = asyncio.get_running_loop()
        answered = _on_loop(loop, on_answer) if on_answer else None
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(None, _blocking_fetch, url, headers, timeout, answered),
                total)
        except (asyncio.TimeoutError, TimeoutError):
            raise AttemptFailed(f"took over {total:g} s in all") from None


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]):
    """``callback`` made callable from any thread: it runs on ``loop``."""
    def call() -> None:
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting
            pass
    return call


def _blocking_fetch(url, headers, timeout, on_answer) -> Response:
    import http.client
    import socket
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            if on_answer:
                on_answer()
            return Response(resp.geturl(), resp.status,
                            {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as e:
        return Response(e.geturl() or url, e.code,
                        {k.lower(): v for k, v in (e.headers or {}).items()}, e.read())
    except (socket.timeout, TimeoutError):
        raise AttemptFailed(f"timeout after {timeout:g} s") from None
    except urllib.error.URLError as e:
        raise AttemptFailed(f"network error ({e.reason})") from None
    except (OSError, ValueError) as e:
        raise AttemptFailed(f"network error ({e})") from None
    except http.client.HTTPException as e:  # e.g. IncompleteRead: the body was cut short
        raise AttemptFailed(f"network error ({type(e).__name__}: {e})") from None


def default_transport():
    return JsTransport() if IN_PYODIDE else UrllibTransport()
