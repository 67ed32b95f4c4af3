"""What normalizing costs in Pyodide, per 1,000 file entries, against micropip's
own parser reading the same page.

    python bench/parse_cost.py [--version 314.0.7,0.26.4] [--sizes 1000,5000] [--repeat 5]

Why: with micropip-mirror a project page is parsed three times (our parser,
our PEP 691 rendering, then micropip reads that rendering) where plain micropip
parses it once; on a 5,000-file page that difference is the whole of b's extra
time.  The page is bench/workloads.py's PyPI-shaped padding, as JSON (PEP 691)
and as HTML (PEP 503).  Each figure is the best of ``--repeat`` in one page
(the minimum: least disturbed by other work on the machine).
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

IN_PAGE = """
import inspect, json, time
from micropip.package_index import ProjectInfo
from micropip_mirror.normalize import parse_answer, to_pep691_json

body_json, body_html, repeat = args_json.encode(), args_html, {repeat}
JSON, HTML = "application/vnd.pypi.simple.v1+json", "text/html"
html_extra = [URL] if len(inspect.signature(ProjectInfo.from_simple_html_api).parameters) > 2 else []

def best(fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1000)
    return min(times)

page_j = parse_answer(body_json, JSON, URL, PROJECT)
page_h = parse_answer(body_html.encode(), HTML, URL, PROJECT)
rendered = to_pep691_json(page_j)
out = {{
  "files": len(page_j.files),
  "json_bytes": len(body_json), "html_bytes": len(body_html),
  "micropip_json": best(lambda: ProjectInfo.from_simple_json_api(body_json)),
  "ours_parse_json": best(lambda: parse_answer(body_json, JSON, URL, PROJECT)),
  "ours_render": best(lambda: to_pep691_json(page_j)),
  "micropip_reads_ours": best(lambda: ProjectInfo.from_simple_json_api(rendered)),
  "micropip_html": best(lambda: ProjectInfo.from_simple_html_api(body_html, PROJECT, *html_extra)),
  "ours_parse_html": best(lambda: parse_answer(body_html.encode(), HTML, URL, PROJECT)),
}}
_json.dumps(out)
"""


def pages(n: int) -> tuple[str, str]:
    files = workloads.padding(PROJECT, n)
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": PROJECT, "files": files})
    html = (f"<!DOCTYPE html>\n<html>\n  <head><title>Links for {PROJECT}</title></head>\n  <body>\n"
            f"    <h1>Links for {PROJECT}</h1>\n{workloads.padding_html(PROJECT, n)}  </body>\n</html>\n")
    return body, html


def measure(page: Page, n: int, repeat: int) -> dict:
    body, html = pages(n)
    code = (f"args_json, args_html = {body!r}, {html!r}\nURL, PROJECT = {URL!r}, {PROJECT!r}\n"
            + IN_PAGE.format(repeat=repeat))
    out = page.python(code, timeout=600)
    # What b adds to a page over plain micropip (c): our parse + render + micropip reading it, minus
    # micropip reading the original.
    out["extra_json"] = out["ours_parse_json"] + out["ours_render"] + out["micropip_reads_ours"] - out["micropip_json"]
    out["extra_html"] = out["ours_parse_html"] + out["ours_render"] + out["micropip_reads_ours"] - out["micropip_html"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=stage_pyodide.DEFAULT_VERSION)
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(BENCH / "results" / "parse_cost.json"))
    args = ap.parse_args(argv)
    wheel = build_wheel(ROOT)
    results = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine(), "repeat": args.repeat, "versions": {}}
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
    lines = [f"Normalizer cost in Pyodide, ms per 1,000 file entries (best of {results['repeat']}; "
             f"{results['date']}; {results['machine']}):", "",
             "| Pyodide | files | micropip parses JSON | ours: parse JSON | ours: render PEP 691 | "
             "micropip parses our rendering | b's extra per JSON page | micropip parses HTML | ours: parse HTML | "
             "b's extra per HTML page |", "|" + "---|" * 10]
    for version, sizes in results["versions"].items():
        for n, m in sizes.items():
            k = m["files"] / 1000
            cells = [m[f] / k for f in ("micropip_json", "ours_parse_json", "ours_render", "micropip_reads_ours",
                                        "extra_json", "micropip_html", "ours_parse_html", "extra_html")]
            lines.append(f"| {version} | {m['files']:,} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
