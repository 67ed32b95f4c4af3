"""The browser fault matrix: which cases exist, what each must show, and the results table.

Why a module of its own: the cases are data (a fault name, what the report must
say about it, which versions must end up installed), shared by the test module
that runs them and by fixes_table.py that puts the table into the README.  The
code that runs inside the page is here too, as one Python source string, so a
test only passes it arguments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TABLE_PATH = ARTIFACTS / "fixes-table.md"

TREE = ["mm-app", "mm-lib-a", "mm-lib-b", "mm-lib-c"]
ALL_NEW = {name: "2.0.0" for name in TREE}

# Per-case options for enable(): a 2 s timeout and no hedging, so that every
# fault is named by its own reason (with hedging, a silent mirror would only be
# "cancelled: another mirror answered first").
MIRROR_OPTIONS = {"timeout": 2.0, "hedge_after": None}
MIRROR_CAP = 60.0  # seconds micropip-mirror may take for one case (a failure if it hits it)
ALONE_CAP = 20.0  # seconds plain micropip gets before the case is recorded as "hangs"


@dataclass(frozen=True)
class Case:
    """One row: a faulty mirror first, a healthy one after it."""

    name: str  # row id; the fleet server name for single-fault rows
    describe: str  # what the row shows, for the table
    reason: str  # regex the report must show for the faulty mirror's attempts
    outcome: str = "failed"  # the attempt outcome that goes with that reason
    versions: dict = field(default_factory=lambda: dict(ALL_NEW))  # project -> version installed
    core: bool = False  # also run on every older Pyodide


NETWORK = r"network or CORS error"

FAULTS = [
    Case("blackhole", "accepts connections, never answers", r"timeout after 2 s", core=True),
    Case("refused", "connection refused", NETWORK),
    Case("unresolvable", "host name does not resolve", NETWORK),
    Case("http-404", "HTTP 404 for every path", r"HTTP 404"),
    Case("http-429", "HTTP 429 Too Many Requests", r"HTTP 429"),
    Case("http-500", "HTTP 500", r"HTTP 500"),
    Case("http-503", "HTTP 503", r"HTTP 503"),
    Case("captive", "captive portal: 200 HTML login page everywhere", r"unusable answer"),
    Case("truncated-json", "PEP 691 JSON cut in half", r"unusable answer: unparsable JSON"),
    # Valid JSON under a wrong label is used (normalize.py sniffs it): "ok" here means the
    # faulty mirror itself served mm-app's page.
    Case("wrong-type-text", "valid JSON sent as text/plain", r"^$", outcome="ok"),
    Case("wrong-type-octet", "valid JSON sent as application/octet-stream", r"^$", outcome="ok"),
    # A lagging mirror lacks mm-app 2.0.0: found lagging, it goes to the back of the
    # list, so the unpinned dependencies asked next come (newest) from the Worker too.
    Case("stale", "lagging mirror: newest versions missing", r"no wheel matching mm-app>=2",
         outcome="stale"),
    Case("tampered", "right sha256 in the index, wrong wheel bytes", r"sha256 mismatch", core=True),
    Case("redirect-loop", "redirects to itself forever", NETWORK),
    Case("slow", "answers after 3 s", r"timeout after 2 s"),
    # Timeouts measure silence: half the page at once, then 6 s of nothing.
    Case("stall", "sends half the page, then nothing for 6 s", r"timeout|stall|silen|idle|no (data|bytes)"),
    Case("no-cors", "healthy index without CORS headers", NETWORK, core=True),
    Case("pypiserver", "pypiserver: HTML only, no CORS (like most mirrors in China)", NETWORK),
]

FILE_HOST_DEAD = Case(
    "file-host-dead", "index answers, its file host is down (Worker whose file upstream is refused)",
    r"HTTP 5\d\d", core=True)
ALL_FAULTY = Case("all-faulty", "every mirror faulty (blackhole, refused, HTTP 500, no CORS)",
                  r"all mirrors failed")
WIDE = Case("mm-wide", "12 dependencies, through the Worker only", r"")
BIG = Case("mm-big", "1 MiB wheel, through the Worker only", r"")

ALL_CASES = [*FAULTS, FILE_HOST_DEAD, ALL_FAULTY, WIDE, BIG]


def module_name(project: str) -> str:
    return project.replace("-", "_")


# Runs inside the page. Defines clean() and run_case(); the test appends a call.
PAGE_CODE = r'''
import asyncio, importlib, json, sys, time
import micropip, micropip_mirror
from micropip_mirror import Mirror

def _mm_clean():
    """Back to a fresh page: no mirrors, no mm-* packages, no mm_* modules."""
    micropip_mirror.disable()
    installed = [n for n in micropip.list() if n.startswith("mm-") or n.startswith("mm_")]
    if installed:
        micropip.uninstall(installed)
    for mod in [m for m in sys.modules if m.startswith("mm_")]:
        del sys.modules[mod]
    importlib.invalidate_caches()

async def _mm_case(mode, requirement, mirrors, index_urls, options, cap, modules):
    _mm_clean()
    before = len(micropip_mirror.report(file=None))
    if mode == "mirror":
        micropip_mirror.enable([Mirror(**m) for m in mirrors], **options)
        coro = micropip.install(requirement)
    else:
        coro = micropip.install(requirement, index_urls=index_urls)
    t0 = time.monotonic()
    result, error = "ok", ""
    try:
        await asyncio.wait_for(coro, cap)
    except (asyncio.TimeoutError, TimeoutError):
        result = "hangs"
    except Exception as e:
        result, error = "error", f"{type(e).__name__}: {e}"
    seconds = time.monotonic() - t0
    imported = {}
    if result == "ok":
        for name in modules:
            try:
                mod = importlib.import_module(name)
                imported[name] = {"version": mod.__version__, "genuine": mod.GENUINE}
            except ImportError as e:  # e.g. installed without its dependencies
                imported[name] = {"version": None, "genuine": None, "error": f"{type(e).__name__}: {e}"}
    records = micropip_mirror.report(file=None).as_dicts()[before:]
    _mm_clean()
    return json.dumps({"result": result, "error": error, "seconds": round(seconds, 2),
                       "imported": imported, "records": records})
'''


def page_call(mode: str, requirement: str, *, mirrors=(), index_urls=(), options=None,
              cap: float, modules=()) -> str:
    """The page code plus one call of _mm_case with these arguments (as JSON literals)."""
    args = [mode, requirement, list(mirrors), list(index_urls), dict(options or {}), cap, list(modules)]
    literal = ", ".join(f"json.loads({json.dumps(json.dumps(a))})" for a in args)
    return PAGE_CODE + f"\nawait _mm_case({literal})\n"


def attempts_of(records: list[dict], mirror: str) -> list[dict]:
    return [a for r in records for a in r["attempts"] if a["mirror"] == mirror]


# --- running a case in the page (shared by the browser matrix modules) ----------------------

def cf(worker, name="cloudflare") -> dict:
    """A WorkerMirror as the Mirror(...) arguments for the page."""
    return {"index_url": worker.index_url, "files_url": worker.files_url, "name": name}


def observe(page, mode, requirement, *, mirrors=(), index_urls=(), modules=(), options=None) -> dict:
    """Run one install in the page: mode "alone" (plain micropip, ``index_urls``) or "mirror"
    (micropip-mirror enabled with ``mirrors``).  Returns the page's observation plus its cap."""
    cap = MIRROR_CAP if mode == "mirror" else ALONE_CAP
    code = page_call(mode, requirement, mirrors=mirrors, index_urls=index_urls,
                     options=MIRROR_OPTIONS if options is None else options, cap=cap, modules=modules)
    obs = json.loads(page.run_async(code))
    obs["cap"] = cap
    return obs


def installed_versions(obs: dict) -> dict:
    """module -> imported version (None: not importable) of an observation."""
    return {name: info["version"] for name, info in obs["imported"].items()}


def wrong_install(obs: dict, versions: dict) -> str:
    """Why an install that "succeeded" is not the one wanted ("" when it is): a module
    missing (installed without dependencies), another version, or a tampered wheel."""
    problems = []
    for project, version in versions.items():
        got = obs["imported"].get(module_name(project))
        if got is None or got["version"] is None:
            problems.append(f"{project} missing")
        elif got["version"] != version:
            problems.append(f"{project} {got['version']} (not {version})")
        elif not got["genuine"]:
            problems.append(f"{project} tampered")
    return ", ".join(problems)


# --- the table --------------------------------------------------------------------------

def short(text: str, limit: int = 90) -> str:
    """One line, no table-breaking characters, at most ``limit`` characters."""
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alone_cell(obs: dict) -> str:
    """What plain micropip did: installed OK / WRONG (tampered installed) / error / hangs."""
    if obs["result"] == "hangs":
        return f"hangs (no answer after {obs['cap']:g} s)"
    if obs["result"] == "error":
        return f"error: {short(obs['error'])}"
    missing = [name for name, m in obs["imported"].items() if m["version"] is None]
    if missing:
        return f"**wrong: installed without {', '.join(missing)}**"
    if any(not m["genuine"] for m in obs["imported"].values()):
        return "**wrong: tampered wheel installed**"
    return f"installed OK ({obs['seconds']:.1f} s)"


def mirror_cell(obs: dict) -> str:
    if obs["result"] == "ok":
        cell = f"installed OK ({obs['seconds']:.1f} s)"
        if obs.get("named"):
            cell += f"; report: {short(obs['named'], 60)}"
        return cell
    if obs["result"] == "error":
        return f"clear error ({obs['seconds']:.1f} s): {short(obs['error'], 70)}"
    return alone_cell(obs)


def render_table(results: dict, pyodide_version: str, micropip_version: str) -> str:
    """Markdown table, rows in ALL_CASES order; ``results[case] = {"alone": obs, "mirror": obs}``."""
    lines = [
        f"Generated by tests/browser/test_matrix.py in headless Chromium, Pyodide {pyodide_version} "
        f"(micropip {micropip_version}). Each row puts the faulty mirror first and the project's "
        "Cloudflare Worker (in workerd) second, then installs `mm-app>=2` (a 4-deep dependency tree). "
        "micropip alone gets the same list as `index_urls`.",
        "",
        "| case | micropip alone | with micropip-mirror |",
        "|---|---|---|",
    ]
    relative = False
    for case in ALL_CASES:
        if case.name not in results:
            continue
        row = results[case.name]
        relative |= "non-remote location" in row.get("alone", {}).get("error", "")
        lines.append(f"| `{case.name}`: {case.describe} | {alone_cell(row['alone']) if 'alone' in row else '—'} "
                     f"| {mirror_cell(row['mirror']) if 'mirror' in row else '—'} |")
    if relative:
        lines += ["", "\"Cannot download from a non-remote location\": micropip does not resolve relative "
                  "file URLs, which these test mirrors pass on from their upstream (as most HTML-only "
                  "mirrors do); micropip-mirror makes every file URL absolute."]
    return "\n".join(lines) + "\n"


def write_table(results: dict, pyodide_version: str, micropip_version: str) -> Path:
    """Write test-artifacts/fixes-table-<pyodide>.md (and the raw JSON); when every case
    ran on the newest Pyodide, also test-artifacts/fixes-table.md, the one the README gets."""
    from .stage_pyodide import DEFAULT_VERSION

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"fixes-matrix-{pyodide_version}.json").write_text(json.dumps(
        {"pyodide": pyodide_version, "micropip": micropip_version, "results": results}, indent=1))
    table = render_table(results, pyodide_version, micropip_version)
    path = ARTIFACTS / f"fixes-table-{pyodide_version}.md"
    path.write_text(table)
    complete = all(c.name in results and {"alone", "mirror"} <= set(results[c.name]) for c in ALL_CASES)
    if complete and pyodide_version == DEFAULT_VERSION:
        TABLE_PATH.write_text(table)
        return TABLE_PATH
    return path


def reason_matches(case: Case, text: str) -> bool:
    return re.search(case.reason, text) is not None
