"""Benchmark: install time under network faults, micropip-mirror against plain
micropip and against the fastest-mirror oracle, in headless Chromium + Pyodide.

    python bench/run.py [--runs 5] [--cap 120] [--quick] [--all] [--hedge 0.25,0.5]

Run it with the main test venv's python (tests/run creates it:
~/.cache/micropip-mirror/venvs/main-py313-*/bin/python); the plot is drawn by
bench/plot.py in its own venv (made on first use from bench/requirements.txt).
Writes bench/results/latest.{json,md,png}.

Every "mirror" is a shaping proxy (bench/shaper.py: 30 ms per request, 2 MB/s)
in front of the fleet's `upstream` index (tests/support/fleet.py), or a fleet
fault server.  Contenders, in rotating order within each run:
  a  plain micropip, index_urls=[first, healthy]
  b  micropip-mirror defaults: enable([first, healthy]); micropip.install(...)
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

from page import Page, page_server  # noqa: E402
from shaper import Shaper  # noqa: E402
from tests.support import stage_pyodide  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.fleet import CACHE, Fleet  # noqa: E402

REQS = ["mm-wide==2.0.0", "mm-app==2.0.0", "mm-big==2.0.0"]  # 18 packages, one ~1 MB wheel
SCENARIOS = {
    "S1": "all healthy (30 ms/request, 2 MB/s)",
    "S2": "first mirror blackholed",
    "S3": "first mirror refuses connections",
    "S4": "first mirror slow (2 s per answer)",
    "S5": "first mirror stale (lacks newest versions)",
    "S6": "warm: S1 install again in the same page",
}
CONTENDERS = {"a": "plain micropip, index_urls=[first, healthy]",
              "b": "micropip-mirror defaults, enable([first, healthy])",
              "c": "oracle: plain micropip, index_urls=[healthy]"}
TARGETS = {"S1": 1.05, "S2": 1.3, "S3": 1.3, "S4": 1.3, "S5": 1.3}


# --- the wheel under test -------------------------------------------------------------------

def build_wheel(project: Path = ROOT) -> Path:
    """``pip wheel --no-deps`` of the project, from a copy (no build/ litter in
    the work tree), cached by the hash of its sources."""
    sources = sorted((project / "src").rglob("*.py")) + [project / "pyproject.toml", project / "LICENSE"]
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    out = CACHE / "bench" / f"wheel-{key}"
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
        out.mkdir(parents=True, exist_ok=True)
        wheel = next(Path(tmp).glob("*.whl"))
        return Path(shutil.copy(wheel, out))


# --- in-page code ---------------------------------------------------------------------------

def install_code(kind: str, first: str, healthy: str) -> str:
    if kind == "b":
        return f"import micropip\nawait micropip.install({REQS!r})"
    urls = [first, healthy] if kind == "a" else [healthy]
    return f"import micropip\nawait micropip.install({REQS!r}, index_urls={urls!r})"


INSTALLED = """
import importlib.metadata as md
_json.dumps({d.metadata["Name"]: d.version for d in md.distributions() if d.metadata["Name"].startswith("mm-")})
"""
UNINSTALL = """
import importlib.metadata as md, micropip
micropip.uninstall([d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].startswith("mm-")])
"""
REPORT = "import micropip_mirror\n_json.dumps(micropip_mirror.report(file=None).as_dicts())"


def one_run(page: Page, scenario: str, contender: str, urls: dict, cap: float) -> dict:
    """Fresh page, then the timed install; S6 installs, uninstalls, installs again."""
    kind, _, hedge = contender.partition("@")
    first, healthy = urls[scenario], urls["healthy"]
    out: dict = {"scenario": scenario, "contender": contender, "startup_ms": page.fresh()}
    if kind == "b":
        opts = f", hedge_after={float(hedge)}" if hedge else ""
        enable = page.timed(f"import micropip_mirror\nmicropip_mirror.enable([{first!r}, {healthy!r}]{opts})", 30)
        if enable["status"] != "ok":
            raise RuntimeError(f"enable failed: {enable}")
        out["enable_ms"] = enable["ms"]
    code = install_code(kind, first, healthy)
    skip = 0
    if scenario == "S6":
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
        out["records"] = [[r["kind"], r["target"], r["served_by"], r["ms"],
                           [[a["mirror"], a["outcome"], a["ms"], a["reason"][:80]] for a in r["attempts"]]]
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
            cell = {"runs": len(rs), "ok": len(ok),
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


def cell_text(cell: dict | None, cap: float) -> str:
    if not cell:
        return "-"
    if cell["hangs"] == cell["runs"]:
        return f"hangs (>{cap:g} s)"
    if cell["ok"] == 0:
        return "fails" if not cell["hangs"] else f"{cell['hangs']} hang, {cell['errors']} fail"
    text = f"{cell['median'] / 1000:.2f} s [{cell['min'] / 1000:.2f}–{cell['max'] / 1000:.2f}]"
    bad = cell["runs"] - cell["ok"]
    return text + (f" ({bad} of {cell['runs']} hung/failed)" if bad else "")


def table(summary: dict, contenders: list[str], cap: float) -> str:
    head = ["scenario", *contenders, *[f"{k}/c" for k in contenders if k.startswith("b")],
            *[f"{k}/a" for k in contenders if k.startswith("b")], "target b/c"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s, row in summary.items():
        cells = [f"{s} {SCENARIOS[s]}", *[cell_text(row.get(k), cap) for k in contenders]]
        for base in ("c", "a"):
            for k in contenders:
                if k.startswith("b"):
                    r = row.get(k, {}).get(f"{k}/{base}")
                    if r is None and base == "a" and row.get("a", {}).get("hangs"):
                        cells.append("∞ (a hangs)")
                    else:
                        cells.append(f"{r:.2f}" if r is not None else "-")
        if s == "S6":
            cells.append("index time ≤ 0.2 × S1")
        else:
            target = TARGETS[s]
            r = row.get("b", {}).get("b/c")
            cells.append(f"≤ {target} " + ("—" if r is None else ("met" if r <= target else "MISSED")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def extras(summary: dict, runs: list[dict]) -> dict:
    enable = [r["enable_ms"] for r in runs if "enable_ms" in r]
    startup = [r["startup_ms"] for r in runs]
    s1 = summary.get("S1", {}).get("b", {}).get("index_ms_median")
    s6 = summary.get("S6", {}).get("b", {}).get("index_ms_median")
    return {
        "enable_ms_median": statistics.median(enable) if enable else None,
        "enable_ms_min": min(enable) if enable else None,
        "enable_ms_max": max(enable) if enable else None,
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
    lines = [f"## Benchmark: {results['date']}", "",
             f"Machine: {results['machine']} (load average: start → end); Chromium headless; {results['runs']} runs per cell; "
             f"cap {results['cap']:g} s per install; wheel {results['wheel']} ({results['wheel_bytes']} bytes). "
             f"Workload: `{' '.join(REQS)}` (18 packages, one ~1 MB wheel). "
             "Mirrors: shaping proxies, 30 ms per request, 2 MB/s per answer. Cells: median [min–max] in seconds.", ""]
    for version, v in results["versions"].items():
        ex = v["extras"]
        lines += [f"### Pyodide {version}", "", v["table"], "",
                  f"- `import micropip_mirror` + `enable()` in Pyodide: median {ex['enable_ms_median']:.1f} ms "
                  f"(min {ex['enable_ms_min']:.1f}, max {ex['enable_ms_max']:.1f}; target ≤ 50 ms)"
                  if ex["enable_ms_median"] is not None else "- enable(): not measured",
                  f"- S6 index time (sum of report() index records): {ex['s6_index_ms']} ms vs S1 {ex['s1_index_ms']} ms"
                  + (f" = {ex['s6_over_s1_index']:.2f} × (target ≤ 0.2)" if ex["s6_over_s1_index"] is not None else ""),
                  ]
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


# --- main -----------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cap", type=float, default=120.0, help="seconds before an install counts as hung")
    ap.add_argument("--quick", action="store_true", help="2 runs, cap 20 s")
    ap.add_argument("--all", action="store_true", help="every staged Pyodide release")
    ap.add_argument("--version", default=stage_pyodide.DEFAULT_VERSION)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--contenders", default="a,b,c", help="subset of a,b,c to run")
    ap.add_argument("--hedge", default="", help="extra micropip-mirror contenders with these hedge_after values")
    ap.add_argument("--hedge-scenarios", default="S2,S4", help="scenarios the --hedge contenders run in")
    ap.add_argument("--latency", type=float, default=0.03)
    ap.add_argument("--bandwidth", type=float, default=2e6)
    ap.add_argument("--out", default=str(BENCH / "results"))
    ap.add_argument("--project", default=str(ROOT), help="project folder (src/, pyproject.toml) to build the wheel from")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.cap = min(args.runs, 2), min(args.cap, 20.0)
    scenarios = args.scenarios.split(",")
    hedged = [f"b@{h}" for h in args.hedge.split(",") if h]
    contenders = [*args.contenders.split(","), *hedged]
    versions = stage_pyodide.ALL_VERSIONS if args.all else [args.version]
    if args.cap < 120:
        print(f"NOTE: install cap lowered to {args.cap:g} s (default 120 s): 'hangs' means > {args.cap:g} s")

    wheel = build_wheel(Path(args.project))
    started = time.time()
    results = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine(), "runs": args.runs, "cap": args.cap, "requirements": REQS,
               "latency_s": args.latency, "bandwidth_Bps": args.bandwidth,
               "wheel": wheel.name, "wheel_bytes": wheel.stat().st_size, "project": args.project,
               "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
               "contenders": {**CONTENDERS, **{k: f"micropip-mirror, hedge_after={k[2:]}" for k in hedged}},
               "scenarios": {s: SCENARIOS[s] for s in scenarios}, "versions": {}}
    with contextlib.ExitStack() as stack:
        fleet = stack.enter_context(Fleet())
        up = fleet.origin("upstream")
        shaped = lambda origin, latency=args.latency: stack.enter_context(  # noqa: E731
            Shaper(origin, latency, args.bandwidth)).origin + "/simple"
        urls = {"healthy": shaped(up), "S1": shaped(up), "S2": fleet.url("blackhole"),
                "S3": fleet.url("refused"), "S4": shaped(up, 2.0), "S5": shaped(fleet.origin("stale"))}
        urls["S6"] = urls["S1"]
        driver = stack.enter_context(chromium())
        for version in versions:
            dist = stage_pyodide.stage(version, CACHE / "pyodide" / version)
            base = stack.enter_context(page_server(Path(dist), wheel))
            page = Page(driver, base, wheel.name)
            runs: list[dict] = []
            for i in range(args.runs):
                for s in scenarios:
                    cs = [k for k in contenders if "@" not in k or s in args.hedge_scenarios.split(",")]
                    order = cs[i % len(cs):] + cs[:i % len(cs)]  # rotate: nobody always goes first
                    for k in order:
                        r = one_run(page, s, k, urls, args.cap)
                        r["run"] = i
                        runs.append(r)
                        ms = f"{r['ms'] / 1000:6.2f} s" if r["ms"] is not None else "   -    "
                        print(f"[{version} run {i + 1}/{args.runs}] {s} {k:7} {r['status']:5} {ms}"
                              + (f"  index {r['index_ms']:.0f} ms" if "index_ms" in r else "")
                              + (f"  {(r.get('error') or '')[-120:]!r}" if r["status"] == "error" else ""),
                              flush=True)
            summary = summarize(runs, scenarios, contenders)
            results["versions"][version] = {"summary": summary, "extras": extras(summary, runs),
                                            "table": table(summary, contenders, args.cap), "runs": runs}
    results["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = {v: {f"{x['scenario']} {x['contender']} run {x['run']}": x.pop("records")
                   for x in data["runs"] if "records" in x} for v, data in results["versions"].items()}
    (out / "latest-records.json").write_text(json.dumps(records))  # large: not for the repo
    results["machine"] += f" → {os.getloadavg()[0]:.1f} at the end"
    (out / "latest.json").write_text(json.dumps(results, indent=1))
    (out / "latest.md").write_text(markdown(results))
    print()
    print(markdown(results))
    print(f"wrote {out / 'latest.json'}, {out / 'latest.md'}, {plot(out / 'latest.json', out / 'latest.png')}"
          f" in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
