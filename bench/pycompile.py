"""Does shipping compiled code pay for micropip-mirror?  `import micropip_mirror` +
`enable()` in Pyodide with the plain wheel (`python -m build`), the release wheel
(checked-hash .pyc files for each supported Python next to the sources,
tests/support/pycs.py) and, where the host Python is the Pyodide's, the wheel after
`pyodide py-compile` (sources replaced by .pyc).

    python bench/pycompile.py                 # Pyodide 314.0.7, 15 runs per wheel
    python bench/pycompile.py --version 0.29.3 --runs 25

`pyodide py-compile` (pyodide-build) compiles with the Python it runs on, so that wheel
is measured only when the host's major.minor is the Pyodide's (0.28/0.29: 3.13).  A
fresh page per run (nothing cached by the import system); the wheels take turns so
none always goes first.  Prints the figures and writes bench/results/pycompile-<version>.json.
Measures speed only; no test asserts it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from page import Page, page_server  # noqa: E402
from run import build_wheel  # noqa: E402
from tests.support import stage_pyodide  # noqa: E402
from tests.support.browser import chromium  # noqa: E402

ENABLE = "import micropip_mirror\nmicropip_mirror.enable(['https://mirror.invalid/simple', 'https://pypi.org/simple'])"


def py_compile(wheel: Path, dest: Path) -> Path:
    """`pyodide py-compile` of a copy of `wheel` in `dest`; returns the cpXY wheel."""
    dest.mkdir(parents=True, exist_ok=True)
    copy = Path(shutil.copy(wheel, dest))
    pyodide = Path(sys.executable).parent / "pyodide"
    subprocess.run([str(pyodide), "py-compile", "--silent", str(copy)], check=True)
    return next(p for p in dest.glob("*.whl") if "-cp" in p.name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=stage_pyodide.DEFAULT_VERSION, help="staged Pyodide release")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    dist = stage_pyodide.stage(args.version, stage_pyodide.CACHE / "pyodide" / args.version)
    python = json.loads((dist / "pyodide-lock.json").read_text())["info"]["python"]
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    work = Path(tempfile.mkdtemp(prefix="mm-pycompile-"))
    try:
        plain = build_wheel(pycs=False)
        wheels = {"plain": plain, "with pycs": build_wheel()}
        if python.startswith(host + "."):
            wheels["py-compiled"] = py_compile(plain, work / "compiled")
        else:
            print(f"Pyodide {args.version} runs Python {python}, this is {host}: no py-compiled wheel")
        sizes = {k: w.stat().st_size for k, w in wheels.items()}
        times: dict[str, list[float]] = {k: [] for k in wheels}
        with contextlib.ExitStack() as stack:
            driver = stack.enter_context(chromium())
            pages = {k: Page(driver, stack.enter_context(page_server(dist, w)), w.name) for k, w in wheels.items()}
            for i in range(args.runs):
                for kind in list(wheels)[i % len(wheels):] + list(wheels)[:i % len(wheels)]:
                    page = pages[kind]
                    page.fresh()
                    result = page.timed(ENABLE, 30)
                    if result["status"] != "ok":
                        raise RuntimeError(f"{kind}: {result}")
                    times[kind].append(result["ms"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "pyodide": args.version, "python": python, "runs": args.runs,
        **{kind: {"wheel": wheels[kind].name, "bytes": sizes[kind],
                  "median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)}
           for kind, t in times.items()},
    }
    (HERE / "results" / f"pycompile-{args.version}.json").write_text(json.dumps(summary, indent=1) + "\n")
    for kind in wheels:
        s = summary[kind]
        print(f"{kind:12} {s['wheel']} ({s['bytes']} bytes): import + enable() median {s['median_ms']:.1f} ms "
              f"(min {s['min_ms']:.1f}, max {s['max_ms']:.1f}), Pyodide {args.version}, {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
