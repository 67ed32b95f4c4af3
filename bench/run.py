"""Benchmark: install time under network faults, micropip-mirror against plain
micropip and against the fastest-mirror oracle, in headless Chromium + Pyodide.

    python bench/run.py [--runs 5] [--cap 120] [--quick] [--all] [--hedge 0.25,0.5]
                        [--scenarios S,K,W,P,NM] [--version 314.0.7,0.26.4] [--name latest]

Run it with the main test venv's python (tests/run creates it:
~/.cache/micropip-mirror/venvs/main-py313-*/bin/python); the plot is drawn by
bench/plot.py in its own venv (made on first use from bench/requirements.txt).
Writes bench/results/<name>.{json,md,png} (and <name>-curves.png for curves).

Every "mirror" is a shaping proxy (bench/shaper.py: 30 ms per request, 2 MB/s)
in front of the fleet's `upstream` index (tests/support/fleet.py, serving the
suite's projects and bench/workloads.py's), or a fault server; the scenarios
are in bench/scenarios.py.  Contenders, in rotating order within each run:
  a  plain micropip, index_urls=[front..., healthy]
  b  micropip-mirror defaults: enable([front..., healthy]); micropip.install(...)
  c  oracle: plain micropip, index_urls=[healthy]
Each run is a fresh page; S6 installs twice in one page (uninstalling between)
and times the second install.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import scenarios as sc  # noqa: E402
import shaper  # noqa: E402
import workloads  # noqa: E402
from page import Page, page_server  # noqa: E402
from tests.support import stage_pyodide  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.fleet import CACHE, Fleet  # noqa: E402
from tests.support.pycs import add_pycs  # noqa: E402

CONTENDERS = {"a": "plain micropip, index_urls=[front..., healthy]",
              "b": "micropip-mirror defaults, enable([front..., healthy])",
              "c": "oracle: plain micropip, index_urls=[healthy]"}
HANG_CAP = 20.0  # plain micropip behind a blackholed mirror never finishes: no need to wait long


# --- the wheel under test -------------------------------------------------------------------

def build_wheel(project: Path = ROOT, pycs: bool = True) -> Path:
    """``pip wheel --no-deps`` of the project, from a copy (no build/ litter in
    the work tree), cached by the hash of its sources; with ``pycs`` the release
    wheel's checked-hash .pyc files added (tests/support/pycs.py)."""
    sources = sorted((project / "src").rglob("*.py")) + [project / "pyproject.toml", project / "LICENSE"]
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    out = CACHE / "bench" / f"wheel-{key}{'-pycs' if pycs else ''}"
    found = list(out.glob("*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(project / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        shutil.copy(project / "pyproject.toml", copy)
        shutil.copy(project / "LICENSE", copy)  # pyproject's license-files
        readme = project / "README.md"
        (copy / "README.md").write_text(readme.read_text() if readme.exists() else "micropip-mirror\n")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(copy), "-w", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        if pycs:
            add_pycs(wheel)
        out.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(wheel, out))


# --- in-page code ---------------------------------------------------------------------------

def install_code(kind: str, s: sc.Scenario, urls: list[str]) -> str:
    """``urls``: the front mirrors then the healthy one."""
    if kind == "b":
        return f"import micropip\nawait micropip.install({s.reqs!r})"
    chosen = urls if kind == "a" else urls[-1:]
    return f"import micropip\nawait micropip.install({s.reqs!r}, index_urls={chosen!r})"


INSTALLED = """
import importlib.metadata as md
_json.dumps({d.metadata["Name"]: d.version for d in md.distributions() if d.metadata["Name"].startswith("mm-")})
"""
UNINSTALL = """
import importlib.metadata as md, micropip
micropip.uninstall([d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].startswith("mm-")])
"""
REPORT = "import micropip_mirror\n_json.dumps(micropip_mirror.report(file=None).as_dicts())"


def _option(spec: str) -> str:
    """A --hedge contender's enable() option: ``0.5`` is hedge_after=0.5,
    ``f0`` is first_hedge_after=0.0."""
    if spec.startswith("f"):
        return f"first_hedge_after={float(spec[1:])}"
    return f"hedge_after={float(spec)}"


def one_run(page: Page, s: sc.Scenario, contender: str, urls: list[str], cap: float) -> dict:
    """Fresh page, then the timed install; S6 installs, uninstalls, installs again."""
    kind, _, option = contender.partition("@")
    out: dict = {"scenario": s.key, "contender": contender, "startup_ms": page.fresh()}
    if kind == "b":
        opts = f", {_option(option)}" if option else ""
        enable = page.timed(f"import micropip_mirror\nmicropip_mirror.enable({urls!r}{opts})", 30)
        if enable["status"] != "ok":
            raise RuntimeError(f"enable failed: {enable}")
        out["enable_ms"] = enable["ms"]
    code = install_code(kind, s, urls)
    skip = 0
    if s.warm:
        cold = page.timed(code, cap)
        out["cold_ms"], out["cold_status"] = cold["ms"], cold["status"]
        if cold["status"] != "ok":
            out.update(status="error", ms=None, error=f"first install: {cold['status']} {cold['error']}")
            return out
        page.python(UNINSTALL + "\n'null'")
        if kind == "b":
            skip = len(page.python(REPORT))
    res = page.timed(code, cap)
    out.update(status=res["status"], ms=res["ms"], error=res["error"])
    if res["status"] == "ok":
        out["installed"] = page.python(INSTALLED)
    if kind == "b" and res["status"] != "hang":
        records = page.python(REPORT)[skip:]
        out["index_ms"] = round(sum(r["ms"] for r in records if r["kind"] == "index"), 1)
        out["requests"] = len(records)
        out["served_by"] = sorted({r["served_by"] or "-" for r in records})
        out["records"] = [[r["kind"], r["target"], r["served_by"], r.get("start_ms"), r["ms"],
                           [[a["mirror"], a["outcome"], a.get("start_ms"), a["ms"], a["reason"][:80]]
                            for a in r["attempts"]]]
                          for r in records]
    return out


# --- statistics and output ------------------------------------------------------------------

def summarize(runs: list[dict], scenarios: list[str], contenders: list[str]) -> dict:
    summary: dict = {}
    for s in scenarios:
        row = summary[s] = {}
        for k in contenders:
            rs = [r for r in runs if r["scenario"] == s and r["contender"] == k]
            if not rs:
                continue
            ok = [r["ms"] for r in rs if r["status"] == "ok"]
            cell = {"runs": len(rs), "ok": len(ok), "cap": max(r.get("cap", 0) for r in rs),
                    "hangs": sum(r["status"] == "hang" for r in rs),
                    "errors": sum(r["status"] == "error" for r in rs)}
            if ok:
                cell.update(median=statistics.median(ok), min=min(ok), max=max(ok))
            idx = [r["index_ms"] for r in rs if "index_ms" in r]
            if idx:
                cell["index_ms_median"] = statistics.median(idx)
            oracle = [r.get("installed") for r in runs if r["scenario"] == s and r["contender"] == "c"]
            same = [r.get("installed") == oracle[0] for r in rs if r.get("installed")] if oracle else []
            cell["same_versions_as_oracle"] = all(same) if same else None
            row[k] = cell
        for k in contenders:
            if k.startswith("b") and k in row:
                for base in ("c", "a"):
                    if "median" in row[k] and "median" in row.get(base, {}):
                        row[k][f"{k}/{base}"] = row[k]["median"] / row[base]["median"]
    return summary


def cell_text(cell: dict | None) -> str:
    if not cell:
        return "-"
    if cell["hangs"] == cell["runs"]:
        return f"hangs (>{cell['cap']:g} s)"
    if cell["ok"] == 0:
        return "fails" if not cell["hangs"] else f"{cell['hangs']} hang, {cell['errors']} fail"
    text = f"{cell['median'] / 1000:.2f} s [{cell['min'] / 1000:.2f}–{cell['max'] / 1000:.2f}]"
    bad = cell["runs"] - cell["ok"]
    return text + (f" ({bad} of {cell['runs']} hung/failed)" if bad else "")


def ratio_text(row: dict, k: str, base: str) -> str:
    r = row.get(k, {}).get(f"{k}/{base}")
    if r is None and base == "a" and row.get("a", {}).get("hangs"):
        return "∞ (a hangs)"
    return f"{r:.2f}" if r is not None else "-"


def verdict(s: sc.Scenario, row: dict) -> str:
    if s.warm:
        return "index time ≤ 0.2 × S1"
    if s.target is None:
        return ""
    r = row.get("b", {}).get("b/c")
    return f"≤ {s.target:g} " + ("—" if r is None else ("met" if r <= s.target else "MISSED"))


def table(versions: dict, keys: list[str], contenders: list[str]) -> str:
    """One row per scenario; per Pyodide release its a, b, c cells and b/c, side by side."""
    bs = [k for k in contenders if k.startswith("b")]
    head = ["scenario"]
    for v in versions:
        head += [f"{k} ({v})" for k in contenders] + [f"{k}/c ({v})" for k in bs] + [f"target ({v})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in keys:
        s = sc.ALL[key]
        cells = [f"{key} {s.label}"]
        for data in versions.values():
            row = data["summary"].get(key, {})
            cells += [cell_text(row.get(k)) if k[0] in s.contenders
                      else "=c" if k == "a" and not s.front else "= k 1" if k == "a" else "-"
                      for k in contenders]
            cells += [ratio_text(row, k, "c") for k in bs] + [verdict(s, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def extras(summary: dict, runs: list[dict]) -> dict:
    enable = [r["enable_ms"] for r in runs if "enable_ms" in r]
    startup = [r["startup_ms"] for r in runs if "startup_ms" in r]  # not in hang repeats, which never ran
    s1 = summary.get("S1", {}).get("b", {}).get("index_ms_median")
    s6 = summary.get("S6", {}).get("b", {}).get("index_ms_median")
    return {
        "enable_ms_median": statistics.median(enable) if enable else None,
        "enable_ms_min": min(enable) if enable else None,
        "enable_ms_max": max(enable) if enable else None,
        "enable_runs": len(enable),
        "pyodide_startup_ms_median": statistics.median(startup) if startup else None,
        "s1_index_ms": s1, "s6_index_ms": s6,
        "s6_over_s1_index": (s6 / s1) if (s1 and s6 is not None) else None,
    }


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), load {os.getloadavg()[0]:.1f}"


def markdown(results: dict) -> str:
    versions = results["versions"]
    keys = list(results["scenarios"])
    bars = [k for k in keys if sc.ALL[k].curve is None and k != "NM"]
    curves = [k for k in keys if k not in bars]
    lines = [f"#### {results['title']}: {results['date']}", "",
             f"Machine: {results['machine']}; Chromium headless; {results['runs']} runs "
             f"per cell (a fresh page each); cap {results['cap']:g} s per install ({HANG_CAP:g} s for plain micropip "
             "behind a blackholed mirror, which has no timeout; a contender that hung in a cell is not run again "
             f"there); wheel {results['wheel']} ({results['wheel_bytes']} bytes). Mirrors: shaping proxies, 30 ms "
             "per request, 2 MB/s per answer (1 MB/s for the big pages). Cells: median [min–max] in seconds; "
             "a column marked =c is the oracle itself (one mirror only); = k 1: plain micropip takes "
             "everything from the first slow mirror, whatever k, so it runs at k = 1 only.", ""]
    contenders = list(results["contenders"])
    if bars:
        lines += [f"Bars: `{' '.join(sc.REQS)}` (18 packages, one ~1 MB wheel).", "",
                  table(versions, bars, contenders), ""]
    if curves:
        lines += ["Curves: K = the standard workload behind k unhealthy mirrors; W = `mm-scale-<n>` "
                  "(a wide fan-out plus a deep chain, bench/workloads.py); P = `mm-lib-c==2.0.0` whose page "
                  "carries n extra PyPI-shaped files; NM = the standard workload from a mirror with no "
                  ".metadata files (b against plain micropip on that same mirror).", "",
                  table(versions, curves, contenders), ""]
    for version, v in versions.items():
        ex = v["extras"]
        lines += [f"Pyodide {version}:", ""]
        if ex["enable_ms_median"] is not None:
            lines.append(f"- `import micropip_mirror` + `enable()`: median {ex['enable_ms_median']:.1f} ms "
                         f"(min {ex['enable_ms_min']:.1f}, max {ex['enable_ms_max']:.1f}, {ex['enable_runs']} pages)")
        if ex["s6_over_s1_index"] is not None:
            lines.append(f"- S6 index time (sum of report() index records): {ex['s6_index_ms']} ms vs S1 "
                         f"{ex['s1_index_ms']} ms = {ex['s6_over_s1_index']:.2f} × (target ≤ 0.2)")
        differ = [f"{s}/{k}" for s, row in v["summary"].items() for k, c in row.items()
                  if c.get("same_versions_as_oracle") is False]
        if differ:
            lines.append(f"- Installed other versions than the oracle (c): {', '.join(differ)}")
        lines.append("")
    lines += ["Contenders: " + "; ".join(f"**{k}** {v}" for k, v in results["contenders"].items()) + ".",
              "", "Notes: *hangs* = no result within the cap (page then reloaded); *fails* = micropip raised "
              "(S5 a: plain micropip takes the page of the first mirror that answers, the stale one, and "
              "finds no mm-app 2.0.0; on micropip 0.7–0.9 a refused first mirror fails too). "
              "b's times exclude `import micropip_mirror` + `enable()`, reported on its own.", ""]
    return "\n".join(lines)


def plot(json_path: Path, png_path: Path) -> str:
    """Draw with bench/plot.py in the bench venv (matplotlib stays out of the test venv)."""
    py = os.environ.get("MM_BENCH_PYTHON") or str(CACHE / "venvs" / "bench-py313" / "bin" / "python")
    if not Path(py).exists():
        subprocess.run([sys.executable, "-m", "venv", str(Path(py).parent.parent)], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")], check=True)
    done = subprocess.run([py, str(BENCH / "plot.py"), str(json_path), str(png_path)])
    return str(png_path) if done.returncode == 0 else "plot failed"


def write(results: dict, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    (out / f"{name}.md").write_text(markdown(results))
    print()
    print(markdown(results))
    print(f"wrote {out / name}.json, .md, {plot(out / f'{name}.json', out / f'{name}.png')}")


def combine(files: list[Path], out: Path, name: str) -> int:
    """One result with every release of ``files`` (runs made in parallel, one per release)."""
    parts = [json.loads(f.read_text()) for f in files]
    results = dict(parts[0])
    results["versions"] = {v: d for p in parts for v, d in p["versions"].items()}
    results["date"] = " / ".join(dict.fromkeys(p["date"] for p in parts))
    results["machine"] = " / ".join(f"{', '.join(p['versions'])}: {p['machine']}" for p in parts)
    results["seconds"] = max(p.get("seconds", 0) for p in parts)
    write(results, out, name)
    return 0


# --- main -----------------------------------------------------------------------------------

def run_cells(page: Page, version: str, scenarios: list[sc.Scenario], contenders: list[str],
              mirrors: sc.Mirrors, args, checkpoint=lambda runs: None) -> list[dict]:
    """Every scenario x contender, ``args.runs`` times, the order of contenders rotating;
    ``checkpoint(runs)`` after each round (a long run stopped early keeps its rounds)."""
    runs: list[dict] = []
    hung: set[tuple[str, str]] = set()
    for i in range(args.runs):
        for s in scenarios:
            urls = [mirrors.url(m) for m in s.front] + [mirrors.url(s.healthy)]
            cs = [k for k in contenders if k[0] in s.contenders
                  and ("@" not in k or s.key in args.hedge_scenarios.split(","))]
            order = cs[i % len(cs):] + cs[:i % len(cs)]  # rotate: nobody always goes first
            for k in order:
                cap = min(args.cap, HANG_CAP) if k == "a" and any(m.startswith("blackhole") for m in s.front) \
                    else args.cap
                if (s.key, k) in hung:  # plain micropip has no timeout: it hangs again
                    r = {"scenario": s.key, "contender": k, "status": "hang", "ms": None, "not_rerun": True}
                else:
                    r = one_run(page, s, k, urls, cap)
                r.update(run=i, cap=cap)
                if r["status"] == "hang":
                    hung.add((s.key, k))
                runs.append(r)
                ms = f"{r['ms'] / 1000:6.2f} s" if r["ms"] is not None else "   -    "
                print(f"[{version} run {i + 1}/{args.runs}] {s.key:14} {k:7} {r['status']:5} {ms}"
                      + (f"  index {r['index_ms']:.0f} ms" if "index_ms" in r else "")
                      + ("  (hung before: not rerun)" if r.get("not_rerun") else "")
                      + (f"  {(r.get('error') or '')[-160:]!r}" if r["status"] == "error" else ""),
                      flush=True)
        checkpoint(runs)
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cap", type=float, default=120.0, help="seconds before an install counts as hung")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1 run, cap 20 s")
    ap.add_argument("--all", action="store_true", help="every staged Pyodide release")
    ap.add_argument("--version", default=stage_pyodide.DEFAULT_VERSION, help="Pyodide release(s), comma-separated")
    ap.add_argument("--scenarios", default="S",
                    help="keys (S1,K-slow-4), prefixes (K-slow) or groups: S bars, K mirrors in front, "
                         "W workload size, P page size, NM no .metadata")
    ap.add_argument("--contenders", default="a,b,c", help="subset of a,b,c to run")
    ap.add_argument("--hedge", default="", help="extra micropip-mirror contenders with these hedge_after values "
                    "(f<value>: first_hedge_after)")
    ap.add_argument("--hedge-scenarios", default="S2,S4", help="scenarios the --hedge contenders run in")
    ap.add_argument("--latency", type=float, default=0.03)
    ap.add_argument("--bandwidth", type=float, default=2e6)
    ap.add_argument("--out", default=str(BENCH / "results"))
    ap.add_argument("--name", default="latest", help="base name of the result files in --out")
    ap.add_argument("--title", default="Latest run")
    ap.add_argument("--project", default=str(ROOT), help="project folder (src/, pyproject.toml) to build the wheel from")
    ap.add_argument("--no-pycs", action="store_true", help="the wheel without its .pyc files (as `python -m build` makes it)")
    ap.add_argument("--combine", default="", help="result files of separate runs (e.g. one per release) to "
                    "merge into --name, side by side; nothing is run")
    args = ap.parse_args(argv)
    if args.combine:
        return combine([Path(f) for f in args.combine.split(",")], Path(args.out), args.name)
    if args.quick:
        args.runs, args.cap = 1, min(args.cap, 20.0)
    scenarios = sc.select(args.scenarios)
    hedged = [f"b@{h}" for h in args.hedge.split(",") if h]
    contenders = [*args.contenders.split(","), *hedged]
    versions = stage_pyodide.ALL_VERSIONS if args.all else args.version.split(",")
    if args.cap < 120:
        print(f"NOTE: install cap lowered to {args.cap:g} s (default 120 s): 'hangs' means > {args.cap:g} s")

    wheel = build_wheel(Path(args.project), pycs=not args.no_pycs)
    started = time.time()
    results = {"title": args.title + (" (--quick: 1 run per cell, a smoke test, not figures)" if args.quick else ""),
               "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine(), "runs": args.runs, "cap": args.cap, "hang_cap": HANG_CAP,
               "requirements": sc.REQS, "latency_s": args.latency, "bandwidth_Bps": args.bandwidth,
               "wheel": wheel.name, "wheel_bytes": wheel.stat().st_size, "project": args.project,
               "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
               "contenders": {**CONTENDERS, **{k: f"micropip-mirror, {_option(k[2:])}" for k in hedged}},
               "scenarios": {s.key: s.label for s in scenarios},
               "curves": {s.key: [s.curve, s.x, s.target] for s in scenarios},
               "versions": {}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        projects = workloads.build()
        fleet = stack.enter_context(Fleet(projects))
        folders = [d for d in projects.iterdir() if d.is_dir()]
        t0 = time.monotonic()
        shaper.warm(fleet.origin("upstream"), [d.name for d in folders],
                    {d.name: [f.name for f in d.glob("*.whl")] for d in folders})
        print(f"upstream answers fetched once in {time.monotonic() - t0:.0f} s", flush=True)
        mirrors = sc.Mirrors(stack, fleet, args.latency, args.bandwidth)
        driver = stack.enter_context(chromium())
        for version in versions:
            dist = stage_pyodide.stage(version, CACHE / "pyodide" / version)
            base = stack.enter_context(page_server(Path(dist), wheel))
            page = Page(driver, base, wheel.name)
            partial = out / f"{args.name}-partial-{version}.json"
            runs = run_cells(page, version, scenarios, contenders, mirrors, args,
                             lambda rs: partial.write_text(json.dumps(rs)))
            summary = summarize(runs, [s.key for s in scenarios], contenders)
            results["versions"][version] = {"summary": summary, "extras": extras(summary, runs), "runs": runs}
    results["seconds"] = round(time.time() - started, 1)
    records = {v: {f"{x['scenario']} {x['contender']} run {x['run']}": x.pop("records")
                   for x in data["runs"] if "records" in x} for v, data in results["versions"].items()}
    (out / f"{args.name}-records.json").write_text(json.dumps(records))  # large: not for the repo
    results["machine"] += f" → {os.getloadavg()[0]:.1f} at the end"
    write(results, out, args.name)
    print(f"in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
