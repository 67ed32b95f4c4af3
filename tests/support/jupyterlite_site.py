"""Build a real JupyterLite site offline, with micropip-mirror preloaded, and serve it.

Why: issue 6 asks for proof in a real site, built by the real `jupyter lite build`
from PyPI's jupyterlite-core and jupyterlite-pyodide-kernel, whose kernel boots
from a self-hosted Pyodide with no request leaving 127.0.0.1.  micropip-mirror
gets into the site only through its `jupyter lite build` addon (issue 14): the
real wheel is unpacked onto the build's PYTHONPATH, as `pip install` would put it,
so jupyterlite-core finds the addon by its entry point.

The Pyodide kernel loads, while it starts, these packages from Pyodide's
lockfile (KERNEL_LOCK_PACKAGES, with their lockfile depends) and `comm` from
the site's piplite index (it is not in the lockfile; without it piplite would
go to pypi.org).  The kernel's own wheels (piplite, pyodide-kernel, ipykernel
stub) ship inside jupyterlite-pyodide-kernel.

    python tests/support/jupyterlite_site.py WHEEL INDEX_URL...   # build, serve, print URL
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if not __package__:  # run as a script
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]

from support import stage_pyodide  # noqa: E402

JUPYTERLITE = {"jupyterlite-core": "0.8.6", "jupyterlite-pyodide-kernel": "0.8.6",
               # what micropip-mirror[jupyterlite] adds: the addon writes lockfile entries with it
               "pyodide-lock[wheel]": "0.2.1",
               # the kernel's lock addon (--pyodide-lock), which the addon must work with
               "pyodide-lock[uv]": "0.2.1"}
# jupyterlite_pyodide_kernel.constants.PYODIDE_VERSION of that release.
PYODIDE_VERSION = "314.0.6"
# What the kernel's startup loads from the lockfile (micropip; then via piplite:
# ipython, jedi and their lockfile depends).
KERNEL_LOCK_PACKAGES = ["micropip", "ipython", "jedi"]
# pyodide-kernel's dependency missing from the lockfile: served by the site's piplite index.
PIPLITE_EXTRAS = [("comm", "0.2.3")]
# ipython's dependency that Pyodide's lockfile does not list but its metadata does.
LOCK_ADDON_EXTRAS = [("ipython-pygments-lexers", "1.1.1")]

CACHE = stage_pyodide.CACHE
VENV = CACHE / "venvs" / ("jupyterlite-" + hashlib.sha256(repr(JUPYTERLITE).encode()).hexdigest()[:12])


def log(msg: str) -> None:
    print(f"[jupyterlite_site] {msg}", file=sys.stderr, flush=True)


def jupyter_lite() -> Path:
    """The `jupyter-lite` CLI from a cached venv holding exactly the pinned releases."""
    exe = VENV / "bin" / "jupyter-lite"
    marker = VENV / ".micropip-mirror-pins"
    pins = [f"{name}=={version}" for name, version in JUPYTERLITE.items()]
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / f".{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs: one creates, the others wait
        if not (exe.exists() and marker.exists() and marker.read_text() == " ".join(pins)):
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run(
                [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
                check=True,
            )
            marker.write_text(" ".join(pins))
            log(f"installed {' '.join(pins)} in {time.monotonic() - started:.1f}s")
    return exe


def stage_jupyterlite_extras(dist_dir: Path) -> list[str]:
    """Put the kernel's lockfile packages (from PyPI, exact lockfile versions) into a Pyodide dir.

    Returns the lockfile names staged.  Same recipe as stage_pyodide.stage.
    """
    lock = json.loads((Path(dist_dir) / "pyodide-lock.json").read_text())
    packages = lock["packages"]
    py = ".".join(lock["info"]["python"].split(".")[:2])
    names = stage_pyodide.closure(packages, KERNEL_LOCK_PACKAGES)
    stage_pyodide.use_wheels(dist_dir, stage_pyodide.fetch_wheels([(n, packages[n]["version"]) for n in names], py))
    return names


def build_wheel(dest: Path) -> Path:
    """The real micropip_mirror wheel (`python -m build --wheel`), built from a copy of the repo
    so the shared work tree gets no build/ or egg-info folders."""
    src = Path(tempfile.mkdtemp(prefix="mm-src-"))
    try:
        shutil.copy(ROOT / "pyproject.toml", src)
        shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("README.md", "LICENSE"):
            shutil.copy(ROOT / name, src)
        done = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(dest), str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"building the micropip_mirror wheel failed:\n{done.stdout[-4000:]}")
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return next(Path(dest).glob("micropip_mirror-*.whl"))


def make_lite_dir(lite_dir: Path) -> Path:
    """A lite dir with a self-hosted Pyodide holding the kernel's packages, and `comm` in
    its piplite folder (pypi/).  `lock-wheels/`: what the kernel's lock addon needs
    besides (uv resolves from the wheels' metadata, which asks for more than Pyodide's
    lockfile depends)."""
    dist = stage_pyodide.stage(PYODIDE_VERSION, CACHE / "pyodide" / PYODIDE_VERSION)
    pyodide_dir = Path(lite_dir) / "static" / "pyodide"
    shutil.rmtree(lite_dir, ignore_errors=True)
    shutil.copytree(dist, pyodide_dir)
    stage_jupyterlite_extras(pyodide_dir)
    python = json.loads((pyodide_dir / "pyodide-lock.json").read_text())["info"]["python"]
    for folder, wanted in (("pypi", PIPLITE_EXTRAS), ("lock-wheels", LOCK_ADDON_EXTRAS)):
        (Path(lite_dir) / folder).mkdir()
        for extra in stage_pyodide.fetch_wheels(wanted, ".".join(python.split(".")[:2])).values():
            shutil.copyfile(extra, Path(lite_dir) / folder / extra.name)
    return Path(lite_dir)


def build_site(work: Path, wheel: Path, build_args: list[str] = (), site_config: dict | None = None,
               lite_config: dict | None = None) -> tuple[Path, str]:
    """`jupyter lite build` a site with micropip-mirror's addon, configured by `build_args`
    (command line) and `lite_config` (jupyter_lite_config.json).

    `site_config`: the lite dir's own jupyter-lite.json (the site's settings before the
    addon).  `work` gets the lite dir (inputs; made by make_lite_dir unless
    `work/lite` exists) and `work/_output` (the site).
    Returns the site and the build log.
    """
    work = Path(work)
    lite_dir, output = work / "lite", work / "_output"
    exe = jupyter_lite()
    if not lite_dir.exists():
        make_lite_dir(lite_dir)
    if site_config is not None:
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(site_config))
    if lite_config is not None:
        (lite_dir / "jupyter_lite_config.json").write_text(json.dumps(lite_config))
    installed = work / "installed"  # the wheel as pip installs it: package + dist-info
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(installed)
    started = time.monotonic()
    done = subprocess.run(
        [str(exe), "build", "--lite-dir", str(lite_dir), "--output-dir", str(output), "--no-sourcemaps",
         *build_args],
        cwd=work,
        # uv (the kernel's lock addon) must not fetch a Python of its own.
        env={**os.environ, "PYTHONPATH": str(installed), "UV_PYTHON_DOWNLOADS": "never"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"jupyter lite build failed:\n{done.stdout[-6000:]}")
    log(f"jupyter lite build in {time.monotonic() - started:.1f}s: {output}")
    return output, done.stdout


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, no CORS header (a site only loads its own origin), every request logged."""

    requests: list

    def log_request(self, code="-", size="-"):
        self.requests.append({"path": self.path, "status": int(code) if str(code).isdigit() else code})

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_site(site: Path):
    """Serve the built site on a free 127.0.0.1 port; yields (base_url, request_log)."""
    requests: list[dict] = []
    handler = functools.partial(type("H", (_SiteHandler,), {"requests": requests}), directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


if __name__ == "__main__":
    out, _ = build_site(Path(tempfile.mkdtemp(prefix="mm-jlite-")), Path(sys.argv[1]),
                        [f"--MicropipMirrorAddon.mirrors={url}" for url in sys.argv[2:]])
    with serve_site(out) as (url, _):
        print(f"{url}/repl/?kernel=python", flush=True)
        threading.Event().wait()
