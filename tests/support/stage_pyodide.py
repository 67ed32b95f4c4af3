"""Stage real Pyodide distributions offline, for pytest-pyodide's --dist-dir.

Why: the npm package `pyodide` has the interpreter but none of the package
wheels, and the CDN that normally serves them is not reachable here.  We take
the pure-Python wheels the tests need from PyPI at the exact versions each
version's pyodide-lock.json names, and rewrite those lockfile entries
(file_name, sha256) with pyodide-lock so `pyodide.loadPackage('micropip')`
works from the staged folder alone.  Staging needs pyodide-lock (Python >= 3.12,
in the test venv); reading a staged folder does not.

    python tests/support/stage_pyodide.py                 # 314.0.7
    python tests/support/stage_pyodide.py --all           # all five
    python tests/support/stage_pyodide.py --versions 0.26.4 --dest DIR

Each staged folder gets a marker file; a second run only reads markers.
Prints the staged folder of each version, one per line, on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ALL_VERSIONS = ["0.26.4", "0.27.7", "0.28.3", "0.29.3", "314.0.7"]
DEFAULT_VERSION = "314.0.7"
CACHE = Path(os.environ.get("MICROPIP_MIRROR_CACHE", Path.home() / ".cache" / "micropip-mirror"))

# Lockfile packages to stage, with everything they depend on in the lockfile.
# micropip/packaging: the code under test.  six/attrs: lockfile packages the
# browser tests install.  pytest/tblib: loaded by pytest-pyodide's
# run_in_pyodide whenever the lockfile lists them.
WANTED = ["micropip", "packaging", "six", "attrs", "pytest", "tblib"]
# Bump when the staged layout changes, so old staged folders are redone.
RECIPE = "3:" + ",".join(WANTED)
MARKER = ".micropip-mirror-staged"


def log(msg: str) -> None:
    print(f"[stage_pyodide] {msg}", file=sys.stderr, flush=True)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def npm_tarball(version: str) -> Path:
    """The cached `npm pack pyodide@VERSION` tarball."""
    npm_dir = CACHE / "downloads" / "npm"
    tarball = npm_dir / f"pyodide-{version}.tgz"
    if not tarball.exists():
        npm_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=npm_dir) as tmp:
            subprocess.run(
                ["npm", "pack", f"pyodide@{version}", "--pack-destination", tmp, "--silent"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            os.replace(Path(tmp) / tarball.name, tarball)
    return tarball


def closure(packages: dict, wanted: list[str]) -> list[str]:
    """Names in `wanted` that the lockfile has, plus their lockfile depends."""
    seen: list[str] = []
    stack = [normalize(n) for n in wanted if normalize(n) in packages]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.append(name)
            stack.extend(normalize(d) for d in packages[name]["depends"])
    return sorted(seen)


def find_wheel(folder: Path, name: str, version: str) -> Path | None:
    for wheel in folder.glob("*.whl"):
        parts = wheel.name.split("-")
        if normalize(parts[0]) == name and parts[1] == version:
            return wheel
    return None


def pip(*args: str, report: bool = True) -> bool:
    """Run pip quietly; show its output only when it fails (and `report`)."""
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode and report:
        lines = [l for l in done.stdout.splitlines() if "is ignored: it is neither" not in l]
        log(f"pip {' '.join(args)} failed:\n  " + "\n  ".join(lines[-5:]))
    return done.returncode == 0


def fetch_wheels(reqs: list[tuple[str, str]], py: str) -> dict[str, Path]:
    """Cached PyPI wheels for (name, version) pairs; sdist-only ones are built."""
    wheel_dir = CACHE / "downloads" / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    missing = [(n, v) for n, v in reqs if not find_wheel(wheel_dir, n, v)]
    if missing:
        with tempfile.TemporaryDirectory(dir=wheel_dir) as tmp:
            specs = [f"{n}=={v}" for n, v in missing]
            common = ["--no-deps", "--python-version", py, "--only-binary=:all:", "-d", tmp]
            if not pip("download", *common, *specs, report=False):
                # One of them has no wheel on PyPI (atomicwrites): go one by one.
                for spec in specs:
                    if not pip("download", *common, spec, report=False):
                        log(f"no wheel for {spec} on PyPI, building it from the sdist")
                        if not pip("wheel", "--no-deps", "-w", tmp, spec):
                            raise SystemExit(f"cannot get a wheel for {spec}")
            for wheel in Path(tmp).glob("*.whl"):
                os.replace(wheel, wheel_dir / wheel.name)
    found = {}
    for n, v in reqs:
        wheel = find_wheel(wheel_dir, n, v)
        if wheel is None:
            raise SystemExit(f"pip gave no wheel for {n}=={v}")
        found[n] = wheel
    return found


def use_wheels(dist_dir: Path, wheels: dict[str, Path], drop_missing_modules: bool = False) -> None:
    """Copy `wheels` ({lockfile name: wheel}) into a Pyodide folder and point their
    lockfile entries at them (file_name, sha256), through pyodide-lock.

    The entries keep Pyodide's own imports and depends (computed from the wheels'
    metadata they could differ).  `drop_missing_modules`: unvendored stdlib modules
    (e.g. hashlib, ssl in 0.26) ship only on the CDN; without their entry Pyodide
    uses the stdlib fallback instead of failing to fetch a zip that is not there.
    """
    from pyodide_lock import PyodideLockSpec
    from pyodide_lock.utils import update_package_sha256

    from micropip_mirror.jupyterlite import write_lockfile

    lock_path = Path(dist_dir) / "pyodide-lock.json"
    spec = PyodideLockSpec.from_json(lock_path)
    for name, wheel in wheels.items():
        shutil.copyfile(wheel, Path(dist_dir) / wheel.name)
        spec.packages[name].file_name = wheel.name
        update_package_sha256(spec.packages[name], Path(dist_dir) / wheel.name)
    if drop_missing_modules:
        for name in [n for n, p in spec.packages.items() if p.package_type == "cpython_module"]:
            if not (Path(dist_dir) / spec.packages[name].file_name).exists():
                del spec.packages[name]
    write_lockfile(spec, lock_path)


def stage(version: str, dest: Path) -> Path:
    marker = dest / MARKER
    if marker.exists() and marker.read_text() == RECIPE:
        return dest
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        with tarfile.open(npm_tarball(version)) as tar:
            tar.extractall(work, filter="data")
        root = work / "package"
        lock = json.loads((root / "pyodide-lock.json").read_text())
        packages = lock["packages"]
        py = ".".join(lock["info"]["python"].split(".")[:2])
        names = closure(packages, WANTED)
        wheels = fetch_wheels([(n, packages[n]["version"]) for n in names], py)
        use_wheels(root, wheels, drop_missing_modules=True)
        (root / MARKER).write_text(RECIPE)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(root, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"staged Pyodide {version} (Python {py}, {len(names)} wheels) in {time.monotonic() - started:.1f}s: {dest}")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", nargs="+", metavar="VERSION")
    parser.add_argument("--all", action="store_true", help="stage " + " ".join(ALL_VERSIONS))
    parser.add_argument("--dest", type=Path, help="parent folder; default ~/.cache/micropip-mirror/pyodide")
    args = parser.parse_args(argv)
    versions = ALL_VERSIONS if args.all else (args.versions or [DEFAULT_VERSION])
    parent = args.dest or CACHE / "pyodide"
    for version in versions:
        print(stage(version, parent / version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
