"""Start the project's Cloudflare Worker (worker/src/index.js) in workerd, through Miniflare,
or the Snippet built from the same source (worker/build-snippet.mjs), with no bindings.

Why: the browser tests, the demo and the benchmarks need "the Cloudflare mirror" offline; workerd is
Cloudflare's own runtime, so this is the same code as a deployment, on a loopback port.

    with worker_mirror("http://127.0.0.1:PORT") as mirror:
        mirror.origin       # http://127.0.0.1:NNNN
        mirror.index_url    # <origin>/pypi/simple   (what Mirror.cloudflare(origin) uses)
        mirror.files_url    # <origin>/files
        mirror.pyodide_url("0.29.3")   # <origin>/pyodide/v0.29.3/full/
    with worker_mirror("http://127.0.0.1:PORT", target="snippet") as snippet:
        snippet.snippet_bytes   # size of the built file it runs
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WORKER_DIR = Path(__file__).resolve().parents[2] / "worker"


def ensure_worker_deps() -> None:
    """Install miniflare (and with it workerd) from the lockfile once; later runs cost nothing."""
    if (WORKER_DIR / "node_modules" / "miniflare" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to run the Worker (miniflare/workerd)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WORKER_DIR, check=True)


@dataclass
class WorkerMirror:
    origin: str
    process: subprocess.Popen
    log_path: Path
    target: str = "worker"
    snippet_bytes: int | None = None

    @property
    def index_url(self) -> str:
        return f"{self.origin}/pypi/simple"

    @property
    def files_url(self) -> str:
        return f"{self.origin}/files"

    def pyodide_url(self, version: str) -> str:
        """The distribution folder of Pyodide ``version`` on this mirror (trailing slash)."""
        return f"{self.origin}/pyodide/v{version}/full/"

    def log(self) -> str:
        """What workerd/miniflare wrote to stderr (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def build_snippet(out: Path, settings: list[str]) -> int:
    """Run worker/build-snippet.mjs (esbuild) with these settings; returns the bundle's size."""
    ensure_worker_deps()
    done = subprocess.run([shutil.which("node") or "node", str(WORKER_DIR / "build-snippet.mjs"),
                           "--out", str(out), *settings],
                          cwd=WORKER_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"snippet build failed:\n{done.stdout}{done.stderr}")
    return out.stat().st_size


def start_worker(
    upstream_index: str,
    upstream_files: str | None = None,
    *,
    upstream_pyodide: str | list[str] | None = None,
    timeout_ms: int | None = None,
    cache_max_file_bytes: int | None = None,
    max_page_bytes: int | None = None,
    target: str = "worker",
    startup_timeout: float = 60.0,
) -> WorkerMirror:
    """Start `node worker/serve.mjs` on a free loopback port and wait for its READY line.

    upstream_files defaults to upstream_index: a local index serves its own files
    (`../../resources/...` or `/packages/...` links), which the Worker maps to /files/.
    upstream_pyodide defaults to <upstream_index>/pyodide for a loopback index (never the
    internet in tests), else to the Worker's own default.
    target="snippet": build the Snippet with these settings compiled in and run that file with
    no bindings (cache_max_file_bytes does not apply: the Snippet has no Cache API tee).
    """
    ensure_worker_deps()
    settings = ["--upstream-index", upstream_index.rstrip("/"),
                "--upstream-files", (upstream_files or upstream_index).rstrip("/")]
    if upstream_pyodide is None and urlsplit(upstream_index).hostname in ("127.0.0.1", "localhost"):
        # A local index has no Pyodide: its 404s keep /pyodide/ off the internet (the Worker's
        # default is cdn.jsdelivr.net), e.g. when a client falls back to the Worker's base.
        upstream_pyodide = upstream_index.rstrip("/") + "/pyodide"
    if upstream_pyodide:
        bases = [upstream_pyodide] if isinstance(upstream_pyodide, str) else upstream_pyodide
        settings += ["--upstream-pyodide", " ".join(b.rstrip("/") for b in bases)]
    if timeout_ms is not None:
        settings += ["--timeout-ms", str(timeout_ms)]
    if max_page_bytes is not None:
        settings += ["--max-page-bytes", str(max_page_bytes)]
    args = [shutil.which("node") or "node", str(WORKER_DIR / "serve.mjs"), "--port", "0", "--host", "127.0.0.1"]
    snippet_bytes = None
    if target == "snippet":
        script = Path(tempfile.mkdtemp(prefix="mm-snippet-")) / "snippet.js"
        snippet_bytes = build_snippet(script, settings)
        args += ["--snippet", str(script)]
    elif target == "worker":
        args += settings
        if cache_max_file_bytes is not None:
            args += ["--cache-max-file-bytes", str(cache_max_file_bytes)]
    else:
        raise ValueError(f"target is 'worker' or 'snippet', not {target!r}")
    log = tempfile.NamedTemporaryFile(prefix="worker-mirror-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        args, cwd=WORKER_DIR, stdout=subprocess.PIPE, stderr=log, text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keep draining stdout so the pipe never fills up
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + startup_timeout
    mirror = WorkerMirror("", proc, Path(log.name), target, snippet_bytes)
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = ""
        if line and line.startswith("READY "):
            mirror.origin = line.split()[1].rstrip("/")
            return mirror
        if line is None or time.monotonic() > deadline:
            stop_worker(mirror)
            raise RuntimeError(f"Worker did not start (exit {proc.poll()}):\n{mirror.log()}")


def stop_worker(mirror: WorkerMirror) -> None:
    """SIGTERM (serve.mjs disposes Miniflare, which stops workerd), then kill if it lingers."""
    proc = mirror.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only our node + workerd
            proc.wait(timeout=10)
    with contextlib.suppress(OSError):
        mirror.log_path.unlink()


@contextlib.contextmanager
def worker_mirror(upstream_index: str, upstream_files: str | None = None, **kwargs):
    """Context manager around start_worker/stop_worker; yields the WorkerMirror."""
    mirror = start_worker(upstream_index, upstream_files, **kwargs)
    try:
        yield mirror
    finally:
        stop_worker(mirror)
