"""The fleet of index servers the suite tests against, independent of pytest.

Why a fleet: micropip-mirror must cope with real servers (simple-repository-server:
PEP 691 JSON + HTML + PEP 658; pypiserver: HTML only) and with every way a mirror
fails.  Each server sits on its own loopback port, so each is its own origin and
the browser enforces CORS exactly as it would on the internet.

    with Fleet() as fleet:
        fleet.url("upstream")      # http://127.0.0.1:P/simple  (JSON+HTML, sha256, CORS)
        fleet.url("blackhole")     # accepts, never answers
        fleet.wheel("mm-app", "2.0.0")["sha256"]

Processes: two simple-repository-server, one pypiserver, one proxpi (a caching
proxy, fed by pypiserver), and one stdlib process (fault_server.py) that holds the
CORS proxies, all fault modes and the shaped indexes.  All five start in parallel; every child dies with its parent (PR_SET_PDEATHSIG, and the fault
process also exits when its stdin closes), so a killed test run leaves nothing.

Names given by ``url(name)`` (index root, no trailing slash):
  upstream          simple-repository-server (fed by pypiserver, so hashes are
                    sha256) behind a CORS proxy.  PEP 691 JSON or HTML by Accept,
                    PEP 658 metadata, files at ../../resources/<project>/<file>.
  upstream-nohash   simple-repository-server on the local folder, behind a CORS
                    proxy: same shapes but empty ``hashes``.
  upstream-nocors   the raw simple-repository-server of ``upstream`` (no CORS).
  pypiserver        raw pypiserver: HTML only, links /packages/<project>/<file>#sha256=..., no CORS.
  pypiserver-cors   pypiserver behind a CORS proxy.
  proxpi            proxpi (caching mirror of pypiserver) behind a CORS proxy; index root
                    /index, relative file URLs, PEP 691 JSON or HTML by Accept.
  <shape>           every name in shaped_index.SHAPES (pypi-json, tuna-json, aliyun-html,
                    legacy-json (url() is a /pypi/{package_name}/json template), ...): the
                    main projects plus projects.SHAPE_SPEC, rendered as real mirrors do.
  <fault mode>      every name in fault_server.MODES.
  refused           a port bound by nobody listening (connection refused).
  unresolvable      http://mm-unresolvable.invalid/simple
Anything added with ``register`` (e.g. the Cloudflare Worker run by miniflare).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import fault_server, shaped_index
from .projects import build_projects, build_shape_projects, build_tampered, normalize

CACHE = Path(os.environ.get("MICROPIP_MIRROR_CACHE", Path.home() / ".cache" / "micropip-mirror"))
UNRESOLVABLE = "http://mm-unresolvable.invalid"
# Index root paths that are not /simple.
INDEX_PATHS = {"proxpi": "/index", **{name: shaped_index.index_path(name) for name in shaped_index.SHAPES}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """Child-side: get SIGTERM when the process that started us dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def find_tool(name: str) -> str:
    """A console script from the test venv (next to sys.executable), $MM_FLEET_BIN, or PATH."""
    for folder in (Path(sys.executable).parent, os.environ.get("MM_FLEET_BIN")):
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: pip install -r tests/requirements.txt")
    return found


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class Fleet:
    """Starts every server once; ``url(name)`` gives their index roots."""

    def __init__(self, projects_dir: Path | None = None, *, slow_seconds: float = 3.0,
                 stall_seconds: float = 6.0, log_dir: Path | None = None):
        self.projects_dir = Path(projects_dir or CACHE / "projects")
        self.tampered_dir = self.projects_dir.with_name(self.projects_dir.name + "-tampered")
        self.shape_dir = self.projects_dir.with_name(self.projects_dir.name + "-shapes")
        self.slow_seconds = slow_seconds
        self.stall_seconds = stall_seconds
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="mm-fleet-"))
        self.projects: dict = {}
        self.tampered: dict = {}
        self.shape_projects: dict = {}
        self.origins: dict[str, str] = {}
        self.extra_urls: dict[str, str] = {}
        self.procs: list[subprocess.Popen] = []
        self.control = ""
        self.startup_seconds = 0.0
        self._refused_sock: socket.socket | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "Fleet":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def start(self) -> "Fleet":
        t0 = time.monotonic()
        self.projects = build_projects(self.projects_dir)
        self.tampered = build_tampered(self.tampered_dir)
        self.shape_projects = build_shape_projects(self.shape_dir)
        for attempt in range(3):  # a free port can be taken between pick and bind: retry
            try:
                self._start_processes()
                break
            except _PortLost:
                self._stop_processes()
        else:
            raise RuntimeError(f"fleet could not start; logs in {self.log_dir}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        self._refused_sock = sock
        self.origins["refused"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.origins["unresolvable"] = UNRESOLVABLE
        self.startup_seconds = time.monotonic() - t0
        return self

    def _spawn(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            argv, stdout=kw.pop("stdout", log), stderr=log, preexec_fn=_die_with_parent, **kw
        )
        proc.mm_name = name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def _start_processes(self):
        srs, pps = find_tool("simple-repository-server"), find_tool("pypi-server")
        p_pypi, p_srs, p_local, p_proxpi = free_port(), free_port(), free_port(), free_port()
        o = lambda port: f"http://127.0.0.1:{port}"  # noqa: E731
        pypi = self._spawn(
            "pypiserver",
            [pps, "run", "-i", "127.0.0.1", "-p", str(p_pypi), "--disable-fallback",
             "--hash-algo", "sha256", str(self.projects_dir)],
        )
        hashed = self._spawn(
            "srs-hashed",
            [srs, "--host", "127.0.0.1", "--port", str(p_srs), "--stream-http-resources", f"{o(p_pypi)}/simple/"],
        )
        local = self._spawn("srs-local", [srs, "--host", "127.0.0.1", "--port", str(p_local), str(self.projects_dir)])
        proxpi_env = {
            **os.environ,
            "PROXPI_INDEX_URL": f"{o(p_pypi)}/simple/",
            "PROXPI_CACHE_DIR": str(self.log_dir / "proxpi-cache"),
            "PROXPI_DOWNLOAD_TIMEOUT": "60",  # serve every file itself, never redirect upstream
        }
        proxpi = self._spawn(
            "proxpi",
            [find_tool("flask"), "--app", "proxpi.server", "run", "--host", "127.0.0.1", "--port", str(p_proxpi)],
            env=proxpi_env,
        )
        config = {
            "upstream": o(p_srs),
            "tampered_dir": str(self.tampered_dir),
            "slow_seconds": self.slow_seconds,
            "stall_seconds": self.stall_seconds,
            "proxies": {
                "upstream": {"upstream": o(p_srs)},
                "upstream-nohash": {"upstream": o(p_local)},
                "pypiserver-cors": {"upstream": o(p_pypi)},
                "proxpi": {"upstream": o(p_proxpi)},
            },
            "shape_dirs": [str(self.projects_dir), str(self.shape_dir)],
        }
        faults = self._spawn(
            "faults",
            [sys.executable, str(Path(fault_server.__file__)), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        line = faults.stdout.readline()
        if not line:
            raise RuntimeError(f"fault server did not start; see {self.log_dir / 'faults.log'}")
        info = json.loads(line)
        self.control = o(info["control"])
        self.origins.update({name: o(port) for name, port in info["ports"].items()})
        self.origins.update({"pypiserver": o(p_pypi), "upstream-nocors": o(p_srs)})
        # pypiserver first: srs-hashed answers only once pypiserver does.
        # proxpi answers a request without Accept with 406: its /health says it is up.
        for proc, url in ((pypi, o(p_pypi) + "/simple/mm-app/"), (local, o(p_local) + "/simple/mm-app/"),
                          (hashed, o(p_srs) + "/simple/mm-app/"), (proxpi, o(p_proxpi) + "/health")):
            self._wait_ready(proc, url)

    def _wait_ready(self, proc: subprocess.Popen, url: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (self.log_dir / f"{proc.mm_name}.log").read_text(errors="replace")
                if "address already in use" in log.lower():
                    raise _PortLost()
                raise RuntimeError(f"{proc.mm_name} exited ({proc.returncode}):\n{log[-2000:]}")
            if http_status(url, timeout=1.0) == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{proc.mm_name} not ready after {timeout}s: {url}")

    def _stop_processes(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
            if proc.stdin:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()

    def close(self):
        self._stop_processes()
        if self._refused_sock is not None:
            self._refused_sock.close()
            self._refused_sock = None
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    # --- URLs -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(set(self.origins) | set(self.extra_urls))

    def origin(self, name: str) -> str:
        """``http://127.0.0.1:P`` of a named server."""
        if name in self.extra_urls:
            raise KeyError(f"{name} was registered by URL only: use url()")
        return self.origins[name]

    def url(self, name: str) -> str:
        """Index root of a named server, e.g. ``http://127.0.0.1:P/simple`` (no trailing slash)."""
        if name in self.extra_urls:
            return self.extra_urls[name]
        return self.origins[name] + INDEX_PATHS.get(name, "/simple")

    def register(self, name: str, url: str, process: subprocess.Popen | None = None):
        """Hook for servers started elsewhere (e.g. the Worker under miniflare).

        ``url`` is its index root; ``process``, if given, is stopped with the fleet.
        """
        self.extra_urls[name] = url.rstrip("/")
        if process is not None:
            process.mm_name = name  # type: ignore[attr-defined]
            self.procs.append(process)

    def wheel(self, project: str, version: str, server: str = "upstream") -> dict:
        """A genuine test wheel: filename, sha256, size, path, requires, and its URL on ``server``.

        URL shapes: upstream/-nohash/-nocors/fault proxies ``<origin>/resources/<project>/<file>``;
        pypiserver(-cors) ``<origin>/packages/<project>/<file>``.
        """
        info = dict(self.projects[normalize(project)][version])
        prefix = "packages" if server.startswith("pypiserver") else "resources"
        info["url"] = f"{self.origin(server)}/{prefix}/{normalize(project)}/{info['filename']}"
        info["tampered_sha256"] = self.tampered[normalize(project)][version]["sha256"]
        return info

    def newest(self, project: str) -> str:
        return max(self.projects[normalize(project)], key=fault_server.version_key)

    # --- request log (servers in the fault process: fault modes and CORS proxies) ---------
    def log(self, server: str | None = None) -> list[dict]:
        """Entries ``{"server", "method", "path", "status", "time"}``, oldest first."""
        with urllib.request.urlopen(f"{self.control}/__log", timeout=5) as resp:
            entries = json.load(resp)
        return [e for e in entries if server is None or e["server"] == server]

    def clear_log(self):
        req = urllib.request.Request(f"{self.control}/__log/clear", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=5).close()


class _PortLost(Exception):
    pass


if __name__ == "__main__":
    with Fleet() as fleet:
        print(f"fleet up in {fleet.startup_seconds:.2f}s; logs in {fleet.log_dir}")
        for name in fleet.names():
            print(f"  {name:18} {fleet.url(name)}")
        if sys.stdin.isatty():
            input("Enter to stop ")
