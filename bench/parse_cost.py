"""What a big project page costs micropip-mirror in Pyodide, per 1,000 file
entries, against micropip's own parser reading the same page.

    python bench/parse_cost.py [--version 314.0.7,0.26.4] [--sizes 1000,5000] [--repeat 5] [--project DIR]

Why: with micropip-mirror a project page is parsed by us, checked (does it offer
the version asked for; requires-python; yanked), rendered as PEP 691 and read
again by micropip, where plain micropip parses it once.  Pages, all of
bench/workloads.py's padding shape (as JSON, PEP 691, and as HTML, PEP 503):
``pypi`` older versions' platform wheels and sdists, like most of a popular
project's page on pypi.org (files micropip can never install in Pyodide: we
leave them out unread); ``pure`` the same entries with every wheel a
py3-none-any one (all kept: the per-file work is all there).  Each figure is
the best of ``--repeat`` in one page (the least disturbed by other work).
``--project`` measures another tree's code (e.g. a copy of an older commit).
Writes bench/results/parse_cost.json and .md (a markdown table).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import workloads  # noqa: E402
from page import Page, page_server  # noqa: E402
from run import build_wheel, machine  # noqa: E402
from tests.support import stage_pyodide  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.fleet import CACHE  # noqa: E402

PROJECT = "mm-lib-c"
URL = f"https://index.example/simple/{PROJECT}/"
KINDS = ("pypi", "pure")

IN_PAGE = """
import inspect, json, time
from micropip.package_index import ProjectInfo
from micropip_mirror.normalize import parse_answer, to_pep691_json
from micropip_mirror.router import _offers
from micropip_mirror.select import for_this_python, without_yanked
try:
    from micropip._vendored.packaging.src.packaging.requirements import Requirement
except ImportError:
    from packaging.requirements import Requirement

repeat = {repeat}
JSON, HTML = "application/vnd.pypi.simple.v1+json", "text/html"
html_extra = [URL] if len(inspect.signature(ProjectInfo.from_simple_html_api).parameters) > 2 else []
requirement = Requirement(PROJECT + "==2.0.0")  # not on the page: every file is looked at

def best(fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1000)
    return min(times)

def choose(page):
    _offers(page, requirement)
    without_yanked(for_this_python(page, requirement), requirement)

out = {{}}
for kind, (body_json, body_html) in pages.items():
    body_json, body_html_b = body_json.encode(), body_html.encode()
    page_j = parse_answer(body_json, JSON, URL, PROJECT)
    rendered = to_pep691_json(page_j)
    out[kind] = {{
      "files": len(page_j.files) + getattr(page_j, "skipped", 0), "kept": len(page_j.files),
      "json_bytes": len(body_json), "html_bytes": len(body_html_b),
      "micropip_json": best(lambda: ProjectInfo.from_simple_json_api(body_json)),
      "ours_parse_json": best(lambda: parse_answer(body_json, JSON, URL, PROJECT)),
      "ours_choose": best(lambda: choose(page_j)),
      "ours_render": best(lambda: to_pep691_json(page_j)),
      "micropip_reads_ours": best(lambda: ProjectInfo.from_simple_json_api(rendered)),
      "micropip_html": best(lambda: ProjectInfo.from_simple_html_api(body_html, PROJECT, *html_extra)),
      "ours_parse_html": best(lambda: parse_answer(body_html_b, HTML, URL, PROJECT)),
    }}
_json.dumps(out)
"""


def pure(files: list[dict]) -> list[dict]:
    """The entries with every wheel renamed a pure-Python one (py3-none-any)."""
    out = []
    for entry in files:
        entry = dict(entry)
        if entry["filename"].endswith(".whl"):
            dist, version = entry["filename"].split("-")[:2]
            entry["filename"] = f"{dist}-{version}-py3-none-any.whl"
            entry["url"] = entry["url"].rsplit("/", 1)[0] + "/" + entry["filename"]
        out.append(entry)
    return out


def pages(n: int) -> dict[str, tuple[str, str]]:
    """Per kind, the page as PEP 691 JSON and as PEP 503 HTML."""
    out = {}
    for kind in KINDS:
        files = workloads.padding(PROJECT, n)
        if kind == "pure":
            files = pure(files)
        body = json.dumps({"meta": {"api-version": "1.1"}, "name": PROJECT, "files": files})
        html = (f"<!DOCTYPE html>\n<html>\n  <head><title>Links for {PROJECT}</title></head>\n  <body>\n"
                f"    <h1>Links for {PROJECT}</h1>\n{workloads.padding_html(PROJECT, n, files)}  </body>\n</html>\n")
        out[kind] = body, html
    return out


def measure(page: Page, n: int, repeat: int) -> dict:
    code = (f"pages = {pages(n)!r}\nURL, PROJECT = {URL!r}, {PROJECT!r}\n" + IN_PAGE.format(repeat=repeat))
    out = page.python(code, timeout=900)
    for m in out.values():
        # What b adds to a page over plain micropip (c): our parse + checks + render + micropip
        # reading the rendering, minus micropip reading the original.
        ours_after_parse = m["ours_choose"] + m["ours_render"] + m["micropip_reads_ours"]
        m["extra_json"] = m["ours_parse_json"] + ours_after_parse - m["micropip_json"]
        m["extra_html"] = m["ours_parse_html"] + ours_after_parse - m["micropip_html"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=stage_pyodide.DEFAULT_VERSION)
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(BENCH / "results" / "parse_cost.json"))
    ap.add_argument("--project", default=str(ROOT), help="project folder (src/, pyproject.toml) to measure")
    args = ap.parse_args(argv)
    wheel = build_wheel(Path(args.project))
    results = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine(), "repeat": args.repeat, "project": args.project, "versions": {}}
    with chromium() as driver:
        for version in args.version.split(","):
            dist = stage_pyodide.stage(version, CACHE / "pyodide" / version)
            with page_server(Path(dist), wheel) as base:
                page = Page(driver, base, wheel.name)
                page.fresh()
                results["versions"][version] = {n: measure(page, int(n), args.repeat)
                                                for n in args.sizes.split(",")}
    Path(args.out).write_text(json.dumps(results, indent=1))
    Path(args.out).with_suffix(".md").write_text(markdown(results) + "\n")
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    lines = [f"Cost of a project page in Pyodide, ms per 1,000 file entries (best of {results['repeat']}; "
             f"{results['date']}; {results['machine']}; code: {results.get('project', 'this tree')}):", "",
             "| Pyodide | page | files (kept) | micropip parses JSON | ours: parse JSON | ours: offers?, "
             "requires-python, yanked | ours: render PEP 691 | micropip parses our rendering | "
             "b's extra per JSON page | micropip parses HTML | ours: parse HTML | b's extra per HTML page |",
             "|" + "---|" * 12]
    fields = ("micropip_json", "ours_parse_json", "ours_choose", "ours_render", "micropip_reads_ours",
              "extra_json", "micropip_html", "ours_parse_html", "extra_html")
    for version, sizes in results["versions"].items():
        for n, kinds in sizes.items():
            for kind, m in kinds.items():
                k = m["files"] / 1000
                lines.append(f"| {version} | {kind} | {m['files']:,} ({m['kept']:,}) | "
                             + " | ".join(f"{m[f] / k:.1f}" for f in fields) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
