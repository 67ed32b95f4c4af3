"""Headless Chromium on a plain page that loads a staged Pyodide from a static
server, plus the in-page steps the benchmark times (the browser itself is
tests/support/browser.py's chromium()).

Why not pytest-pyodide: the benchmark wants a fresh page per run and its own
timing; a static folder (the staged Pyodide, a blank page, our wheel) and one
Selenium session are all it needs.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import tempfile
import threading
from pathlib import Path

PAGE = "<!doctype html><html><head><script src='pyodide.js'></script></head><body>bench</body></html>"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extra_headers: dict = {}

    def end_headers(self):
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def page_server(dist: Path, wheel: Path, headers: dict | None = None):
    """Serve the staged Pyodide, bench.html and our wheel from one origin
    (``headers`` on every answer, e.g. a Content-Security-Policy)."""
    root = Path(tempfile.mkdtemp(prefix="mm-bench-page-"))
    try:
        for item in dist.iterdir():
            (root / item.name).symlink_to(item)
        (root / "bench.html").write_text(PAGE)
        shutil.copy(wheel, root / wheel.name)
        handler = functools.partial(type("Handler", (_Quiet,), {"extra_headers": headers or {}}),
                                    directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.handle_error = lambda *a: None  # dropped connections on page reload
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# The body of every async script: `arguments` are (args..., done); errors come
# back as {"error": ...} instead of Selenium exceptions.
_ASYNC = """
const done = arguments[arguments.length - 1];
const args = arguments;
(async () => { %s })().then(done, e => done({__error: String(e && e.stack || e)}));
"""


class Page:
    """One Chromium tab; ``fresh()`` reloads it with Pyodide + micropip ready."""

    def __init__(self, driver, base: str, wheel_name: str):
        self.driver = driver
        self.base = base
        self.wheel_name = wheel_name

    def js(self, body: str, *args, timeout: float = 120):
        self.driver.set_script_timeout(timeout)
        result = self.driver.execute_async_script(_ASYNC % body, *args)
        if isinstance(result, dict) and "__error" in result:
            raise RuntimeError(result["__error"])
        return result

    def fresh(self) -> float:
        """New page, Pyodide loaded, micropip imported, our wheel unpacked (not
        imported). Returns the page's Pyodide start-up time in ms."""
        self.driver.get(f"{self.base}/bench.html")
        return self.js(f"""
const t0 = performance.now();
window.py = await loadPyodide({{indexURL: location.origin + "/"}});
await py.loadPackage("micropip", {{messageCallback: () => {{}}}});
await py.runPythonAsync(`
import io, site, zipfile, importlib
from pyodide.http import pyfetch
data = await (await pyfetch("{self.wheel_name}")).bytes()
zipfile.ZipFile(io.BytesIO(data)).extractall(site.getsitepackages()[0])
importlib.invalidate_caches()
import micropip
`);
return performance.now() - t0;
""", timeout=180)

    def timed(self, code: str, cap: float) -> dict:
        """Run Python ``code`` (top-level await allowed), timed with performance.now();
        gives up after ``cap`` seconds: {"status": ok|error|hang, "ms", "error"}."""
        return self.js("""
const [code, capMs] = args;
const t0 = performance.now();
let error = null;
const run = py.runPythonAsync(code).then(() => "ok", e => { error = String(e); return "error"; });
const cap = new Promise(r => setTimeout(() => r("hang"), capMs));
const status = await Promise.race([run, cap]);
return {status, ms: performance.now() - t0, error: error && error.slice(-600)};
""", code, cap * 1000, timeout=cap + 60)

    def python(self, code: str, timeout: float = 60):
        """Run Python code whose last expression is JSON-able; returns it."""
        out = self.js("""
const r = await py.runPythonAsync(args[0]);
return r === undefined ? null : r;
""", f"import json as _json\n{code}\n", timeout=timeout)
        return json.loads(out) if isinstance(out, str) else out
