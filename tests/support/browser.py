"""Small helpers for the Pyodide browser tests: wheels, a static server, page loading.

Why here and not in a fixture file: tests and conftest both use them, and
they need nothing but the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import http.server
import io
import os
import shutil
import socket
import threading
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str | bytes]) -> Path:
    """Write a minimal valid pure-Python wheel (METADATA, WHEEL, RECORD).

    `files` maps archive paths (e.g. "pkg/__init__.py") to their content.
    """
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = {path: data.encode() if isinstance(data, str) else data for path, data in files.items()}
    contents[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: micropip-mirror-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in contents.items():
        writer.writerow([path, _record_hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    contents[f"{info}/RECORD"] = record.getvalue().encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
    return wheel


def package_wheel(dest: Path, package_dir: Path, version: str) -> Path:
    """Wheel of a source package folder (e.g. src/micropip_mirror), .py files only."""
    files = {
        f"{package_dir.name}/{p.relative_to(package_dir).as_posix()}": p.read_bytes()
        for p in sorted(package_dir.rglob("*.py"))
    }
    return make_wheel(dest, package_dir.name.replace("_", "-"), version, files)


class _Handler(http.server.SimpleHTTPRequestHandler):
    cors = True
    extra_headers: dict = {}

    def end_headers(self):
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def static_server(directory: Path, cors: bool = True, headers: dict | None = None):
    """Serve `directory` on a free 127.0.0.1 port; yields the base URL.

    A separate port is a separate origin, so the browser enforces CORS. `headers` go on every
    answer (e.g. COOP/COEP, to make a page cross-origin isolated).
    """
    attrs = {"cors": cors, "extra_headers": dict(headers or {})}
    handler = functools.partial(type("Handler", (_Handler,), attrs), directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def dead_url() -> str:
    """An http URL on a loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/dist/"


def load_wheel_into_page(selenium, wheel: Path) -> None:
    """Unpack a local wheel into the page's site-packages, without any server.

    Works in every runtime (Chromium and Node) and every Pyodide version,
    because the bytes travel inside the script itself.
    """
    data = base64.b64encode(wheel.read_bytes()).decode()
    selenium.run(
        f"""
import base64, importlib, io, site, zipfile
zipfile.ZipFile(io.BytesIO(base64.b64decode({data!r}))).extractall(site.getsitepackages()[0])
importlib.invalidate_caches()
"""
    )


def reload_page(selenium, wheel) -> None:
    """Reload the page (localStorage stays), start Pyodide again, load micropip
    and micropip_mirror: what a visitor's next page load does."""
    selenium.refresh()
    selenium.load_pyodide()
    selenium.initialize_pyodide()
    selenium.save_state()
    selenium.run_async("import micropip")
    load_wheel_into_page(selenium, wheel)


def point_pyodide_js(base: str, pyodide: str = "pyodide") -> str:
    """JS that makes the page's Pyodide (the JS object named ``pyodide``) fetch
    its packages from ``base``, as if it had been loaded from there (0.28+: the
    package manager's installBaseUrl and config.packageBaseUrl; 0.26/0.27:
    config.indexURL)."""
    return f"""
const api = {pyodide}._api;
if (api.packageManager && "installBaseUrl" in api.packageManager) {{
    api.packageManager.installBaseUrl = {base!r};
    api.config.packageBaseUrl = {base!r};
}} else {{
    api.config.indexURL = {base!r};
}}
"""


def point_pyodide_at(selenium, base: str) -> None:
    """point_pyodide_js in a pytest-pyodide page."""
    selenium.run_js(point_pyodide_js(base))


# Chromium as root, headless, offline. pytest-pyodide adds --headless and
# --no-sandbox (needed as root) itself; chromium() below adds them too. The
# rest keep Chromium from phoning home (no network here), from using the
# small /dev/shm of containers, and from needing a GPU.
CHROME_FLAGS = [
    "--js-flags=--expose-gc",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


@contextlib.contextmanager
def chromium(*extra_flags: str):
    """Debian's headless Chromium under selenium, for pages pytest-pyodide does
    not run (the demo, JupyterLite, the benchmark). Browser console logs kept."""
    from selenium import webdriver  # not in the older-micropip venvs, which never call this
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: use chromedriver from PATH
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", *CHROME_FLAGS, *extra_flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()
