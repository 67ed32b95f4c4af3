#!/usr/bin/env python3
"""Serve the micropip-mirror demo page, offline, in one command:

    python3 demo/serve.py            # prints "Demo: http://127.0.0.1:8000/"
    python3 demo/serve.py --port 0   # any free port
    python3 demo/serve.py --online   # real upstreams: pypi.org, Pyodide from jsDelivr

Why a script and not a static folder: offline, the page needs a package index
to install from and a Pyodide to run, and neither exists on a fresh machine.
On first use this installs what it needs (a venv under
~/.cache/micropip-mirror/venvs/ with the index servers, worker/'s npm packages,
a staged Pyodide), then starts, all on 127.0.0.1:

  * a local upstream index with the sample projects (tests/support/fleet.py),
  * the project's Cloudflare Worker in workerd over that upstream,
  * this page, the staged Pyodide and a wheel of src/micropip_mirror,

with a default mirror list whose first entry is dead (a refused port), so the
fallback shows.  Later starts reuse the caches and take seconds.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

DEMO = Path(__file__).resolve().parent
ROOT = DEMO.parent
CACHE = Path(os.environ.get("MICROPIP_MIRROR_CACHE", Path.home() / ".cache" / "micropip-mirror"))
REQUIREMENTS = DEMO / "requirements.txt"
PYODIDE_VERSION = "314.0.7"
CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
CDN_HOSTS = ["cdn.jsdelivr.net", "fastly.jsdelivr.net", "gcore.jsdelivr.net", "testingcf.jsdelivr.net"]
PAGE_FILES = ["index.html", "demo.css", "demo.js"]


def log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


# --- first use: a venv with the index servers -----------------------------------------------

@functools.cache
def base_python() -> tuple[str, str]:
    """(executable, sys.version) the venv is made from: this Python if it is >= 3.12, else
    a python3.13/3.12 found on PATH or in ~/.pyenv, else this one.  Why: staging Pyodide
    writes its lockfile with pyodide-lock, which needs 3.12 (Debian 12's python3 is 3.11)."""
    if sys.version_info >= (3, 12):
        return sys.executable, sys.version
    for v in ("3.13", "3.12"):
        for exe in [*sorted(Path.home().glob(f".pyenv/versions/{v}.*/bin/python{v}")), shutil.which(f"python{v}")]:
            if exe:
                done = subprocess.run([str(exe), "-c", "import sys, venv; print(sys.version)"],
                                      capture_output=True, text=True)
                if done.returncode == 0:
                    return str(exe), done.stdout.strip()
    return sys.executable, sys.version


def venv_dir() -> Path:
    """Keyed by demo/requirements.txt and the exact Python, like tests/run's venvs."""
    version = base_python()[1]
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + version.encode()).hexdigest()[:12]
    return CACHE / "venvs" / f"demo-py{''.join(version.split('.')[:2])}-{key}"


def ensure_venv_module() -> None:
    """Debian's python3 lacks ensurepip until python3-venv is installed: install it (apt)."""
    if subprocess.run([base_python()[0], "-c", "import ensurepip, venv"], capture_output=True).returncode == 0:
        return
    package = f"python3.{base_python()[1].split('.')[1]}-venv"
    if not shutil.which("apt-get"):
        sys.exit(f"[demo] this python3 cannot create venvs; install {package} (or python3-venv) first")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing {package} with apt-get (needed for venvs)")
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", package], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_venv() -> Path:
    venv = venv_dir()
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two demos starting at once build it once
        if not (venv / ".complete").exists():
            log(f"first use: creating {venv} (index servers from PyPI)")
            ensure_venv_module()
            subprocess.run([base_python()[0], "-m", "venv", "--clear", str(venv)], check=True)
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            if done.returncode:
                sys.exit(f"[demo] pip install -r {REQUIREMENTS} failed:\n{done.stdout[-3000:]}")
            (venv / ".complete").touch()
    return python


def in_venv(venv: Path) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


# --- the parts ---------------------------------------------------------------------------------

def refused_port(stack: ExitStack) -> str:
    """An origin whose port is bound but never listens: connections are refused at once."""
    sock = stack.enter_context(socket.socket())
    sock.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def build_wheel(dest: Path) -> Path:
    """A wheel of src/micropip_mirror as it is now (micropip.install(url) takes it)."""
    from support.browser import package_wheel

    version = "0.1.0"
    for line in (ROOT / "src" / "micropip_mirror" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            version = line.split("=", 1)[1].strip().strip("\"'")
    return package_wheel(dest, ROOT / "src" / "micropip_mirror", version)


def make_site(site: Path, wheel: Path, pyodide_dir: Path | None, config: dict) -> None:
    """The folder the static server serves: links to demo/ (edits show on reload),
    the staged Pyodide, the wheel, and config.json (this run's defaults)."""
    for name in PAGE_FILES:
        (site / name).symlink_to(DEMO / name)
    (site / "wheels").mkdir()
    (site / "wheels" / wheel.name).symlink_to(wheel)
    if pyodide_dir is not None:
        (site / "pyodide").symlink_to(pyodide_dir, target_is_directory=True)
    (site / "config.json").write_text(json.dumps(config, indent=1))


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".whl": "application/octet-stream",
        ".json": "application/json",
    }

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, *args):
        pass


def serve(args) -> None:
    from support import stage_pyodide
    from support.worker_mirror import ensure_worker_deps, worker_mirror

    started = time.monotonic()
    with ExitStack() as stack:
        dead = refused_port(stack) + "/simple"
        ensure_worker_deps()
        if args.online:
            pyodide_dir = None
            worker = stack.enter_context(worker_mirror("https://pypi.org", "https://files.pythonhosted.org"))
            mirrors = [("dead-mirror", dead), ("cloudflare-worker", f"cloudflare:{worker.origin}"),
                       ("pypi", "https://pypi.org/simple")]
            requirements, probe = "tabulate", "micropip"
        else:
            from support.fleet import Fleet

            pyodide_dir = stage_pyodide.stage(PYODIDE_VERSION, CACHE / "pyodide" / PYODIDE_VERSION)
            fleet = stack.enter_context(Fleet())
            worker = stack.enter_context(worker_mirror(fleet.origin("upstream-nocors")))
            mirrors = [("dead-mirror", dead), ("cloudflare-worker", f"cloudflare:{worker.origin}")]
            requirements, probe = "mm-app", "mm-app"
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mm-demo-")))
        wheel = build_wheel(tmp / "wheel")
        (tmp / "site").mkdir()
        config = {
            "mode": "online" if args.online else "offline",
            "pyodide": "pyodide/" if pyodide_dir else CDN,
            "pyodide_version": PYODIDE_VERSION,
            "pyodide_choices": ([["local copy served by this demo", "pyodide/"]] if pyodide_dir else [])
            + [[host, CDN.replace("cdn.jsdelivr.net", host)] for host in CDN_HOSTS],
            "wheel": f"wheels/{wheel.name}",
            "mirrors": "\n".join(f"{name} = {url}" for name, url in mirrors),
            "requirements": requirements,
            "probe_project": probe,
        }
        make_site(tmp / "site", wheel, pyodide_dir, config)
        handler = functools.partial(Handler, directory=str(tmp / "site"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
        stack.callback(server.server_close)
        log(f"ready in {time.monotonic() - started:.1f}s; mirrors: " + ", ".join(f"{n} {u}" for n, u in mirrors))
        print(f"Demo: http://127.0.0.1:{server.server_address[1]}/", flush=True)
        server.serve_forever()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port); default 8000")
    parser.add_argument("--online", action="store_true",
                        help="use real upstreams: the Worker over pypi.org, pypi.org itself, Pyodide from jsDelivr")
    args = parser.parse_args(argv)
    venv = venv_dir()
    if not in_venv(venv):
        python = ensure_venv()
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]
    # SIGTERM (e.g. from a test) stops like Ctrl-C: every server is shut down.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve(args)  # leaving it (Ctrl-C or SIGTERM) stops every server it started
    except KeyboardInterrupt:
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
