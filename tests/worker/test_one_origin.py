"""What makes one origin enough for a page (issue 13), on the Worker and on the Snippet:
the Pyodide distribution route, the routes the plain design served, the hardening list, and
the Snippet's own promises (no bindings, ≤ 2 upstream requests per request, bundle size).

Upstream request counts come from the HTML-only upstream's own request log.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from support.worker_mirror import WORKER_DIR, build_snippet, worker_mirror
from test_worker import MICROPIP_ACCEPT, PEP691, PEP691_HTML, assert_cors, get, raw_get
from worker_upstreams import (
    EPOCH_FILE, HTML_FILE, HTML_SHA, LOCAL_FILE, PYODIDE_A, PYODIDE_B, PYODIDE_VERSION,
)

SNIPPET_LIMIT = 32 * 1024  # Cloudflare: "Maximum total package size 32 KB"


def pyodide(mirror, name: str) -> str:
    return f"{mirror.origin}/pyodide/{PYODIDE_VERSION}/full/{name}"


def upstream_requests(html_upstream, do):
    """The paths the upstream received while do() ran."""
    _, seen = html_upstream
    before = len(seen)
    result = do()
    return result, seen[before:]


# ---------------------------------------------------------------- the Pyodide distribution


@pytest.mark.parametrize(
    "name, ctype",
    [
        ("pyodide.mjs", "text/javascript"),
        ("pyodide.asm.wasm", "application/wasm"),
        ("pyodide-lock.json", "application/json"),
        ("console.html", "text/plain"),  # an upstream page never runs on the mirror's origin
    ],
)
def test_pyodide_files_streamed_with_right_types(html_worker, name, ctype):
    r = get(pyodide(html_worker, name))
    assert r.status_code == 200, r.text
    assert r.content == PYODIDE_A[name]
    assert r.headers["Content-Type"].split(";")[0] == ctype
    assert_cors(r)
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cc = r.headers["Cache-Control"]
    assert "immutable" in cc and "max-age=31536000" in cc
    assert r.headers["X-Mirror-Upstream"] == "2"  # the first base answered 500


def test_pyodide_debug_build(html_worker):
    r = get(f"{html_worker.origin}/pyodide/{PYODIDE_VERSION}/debug/pyodide.mjs")
    assert r.status_code == 200 and r.content == PYODIDE_A["pyodide.mjs"]
    assert r.headers["Content-Type"].startswith("text/javascript")


def test_pyodide_bases_tried_in_order(html_worker, html_upstream):
    # the wasm file is over html_worker's 1 KB Cache API limit: every request goes upstream
    r, asked = upstream_requests(html_upstream, lambda: get(pyodide(html_worker, "pyodide.asm.wasm")))
    assert r.status_code == 200
    assert asked == [f"/pyodide-500/{PYODIDE_VERSION}/full/pyodide.asm.wasm",
                     f"/pyodide-a/{PYODIDE_VERSION}/full/pyodide.asm.wasm"]


def test_pyodide_third_base_reached_by_the_worker_only(html_worker, html_upstream):
    """A file only the third base has: the Worker gets it (3 requests); the Snippet stops at its
    2-subrequest budget and answers 502 at once, so the client tries its next source."""
    name = next(iter(PYODIDE_B))
    r, asked = upstream_requests(html_upstream, lambda: get(pyodide(html_worker, name)))
    assert_cors(r)
    if html_worker.target == "worker":
        assert r.status_code == 200 and r.content == PYODIDE_B[name]
        assert len(asked) == 3
    else:
        assert r.status_code == 502  # one base said 500: not a clean 404
        assert len(asked) == 2


def test_pyodide_missing_everywhere_is_404(worker, html_worker):
    # worker's only base is its local index, which 404s every Pyodide path
    r = get(f"{worker.origin}/pyodide/v0.29.3/full/pyodide.mjs")
    assert r.status_code == 404 and "not found upstream" in r.text
    assert_cors(r)
    # one base answered 500: that is an upstream failure, not a missing file
    r = get(pyodide(html_worker, "nothing-here.whl"))
    assert r.status_code == 502


def test_pyodide_dead_upstream_is_502(dead_worker):
    r = get(f"{dead_worker.origin}/pyodide/v0.29.3/full/pyodide.mjs")
    assert r.status_code == 502 and "upstream" in r.text
    assert_cors(r)


# ---------------------------------------------------------------- routes of the plain design


def test_version_json_rewritten_and_non_http_dropped(html_worker):
    r = get(f"{html_worker.origin}/pypi/MM.Html/1.0/json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert_cors(r)
    urls = [u["url"] for u in r.json()["urls"]]
    assert urls == [f"{html_worker.origin}/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl"]


@pytest.mark.parametrize(
    "fmt, ctype",
    [
        (PEP691, PEP691),
        ("application/vnd.pypi.simple.latest+json", PEP691),
        (PEP691_HTML, PEP691_HTML),
        ("text/html", "text/html"),
    ],
)
def test_format_query_wins_over_accept(worker, fmt, ctype):
    # "+" unencoded, as people type it: it must not turn into a space
    r = get(f"{worker.origin}/simple/mm-lib-a/?format={fmt}", "text/html" if "json" in fmt else PEP691)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == ctype


def test_unknown_format_is_406(worker):
    r = get(f"{worker.origin}/simple/mm-lib-a/?format=application/xml")
    assert r.status_code == 406
    assert_cors(r)


def test_root_listing_converted_to_json(html_worker):
    """The HTML-only upstream's root page, asked for as JSON."""
    r = get(f"{html_worker.origin}/simple/", PEP691)
    assert r.status_code == 200 and r.headers["Content-Type"] == PEP691
    assert r.json()["projects"] == [{"name": "mm-html"}, {"name": "MM_Evil"}]
    html = get(f"{html_worker.origin}/simple/", "text/html")
    assert html.headers["Content-Type"].startswith("text/html") and "mm-html" in html.text


def test_root_listing_passed_through_when_upstream_speaks_it(worker):
    r = get(f"{worker.origin}/pypi/simple/?format=text/html")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert 'href="mm-app/"' in r.text  # simple-repository-server's own page


@pytest.mark.parametrize("target", ["worker", "snippet"])
def test_root_listing_json_to_html(mirrors, target):
    mirror = mirrors("json-root", target)
    for path in ("/pypi/simple/", "/pypi/simple"):
        r = get(f"{mirror.origin}{path}", "text/html")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), r.text
        assert '<a href="/pypi/simple/mm-json/">MM_Json</a>' in r.text
        assert "<b>" not in r.text and "&lt;b&gt;x" in r.text
    assert get(f"{mirror.origin}/simple/", PEP691).json()["projects"][0] == {"name": "MM_Json"}


# ---------------------------------------------------------------- hardening


def test_page_with_base_href_and_evil_links(html_worker):
    """<base href> is honoured, javascript: and data: links are dropped from JSON and HTML, and
    the query of a rewritten URL is dropped (as /files/ forwards none)."""
    o = html_worker.origin
    page = get(f"{o}/pypi/simple/mm-evil/", PEP691).json()
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {"mm_evil-2.0+cpu-py3-none-any.whl", "mm_evil-3.0-py3-none-any.whl"}
    assert files["mm_evil-3.0-py3-none-any.whl"]["url"] == f"{o}/files/deep/base/mm_evil-3.0-py3-none-any.whl"
    local = files["mm_evil-2.0+cpu-py3-none-any.whl"]
    assert local["url"] == f"{o}/files/packages/mm_evil-2.0%2Bcpu-py3-none-any.whl"
    assert local["hashes"] == {"sha256": "00"}
    html = get(f"{o}/pypi/simple/mm-evil/", "text/html").text
    for bad in ("javascript:", "JavaScript:", "data:", "<script", "token="):
        assert bad not in html
    assert f'href="{o}/files/deep/base/mm_evil-3.0-py3-none-any.whl"' in html


def test_percent_encoded_file_names_served(html_worker, html_upstream):
    """%2B (local version "+cpu") and %21 (epoch "1!") are real file names, not attacks; the
    upstream gets the segment exactly as the link had it."""
    r, asked = upstream_requests(html_upstream, lambda: get(
        f"{html_worker.origin}/files/packages/ab/cd/mm_html-1.0%2Bcpu-py3-none-any.whl"))
    assert r.status_code == 200 and r.content == LOCAL_FILE
    assert asked == ["/packages/ab/cd/mm_html-1.0%2Bcpu-py3-none-any.whl"]
    r = get(f"{html_worker.origin}/files/packages/mm_html-1%211.0.tar.gz")
    assert r.status_code == 200 and r.content == EPOCH_FILE


def test_file_query_is_not_forwarded(html_worker, html_upstream):
    r, asked = upstream_requests(html_upstream, lambda: raw_get(
        html_worker.origin, "/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl?x=../../etc&format=x"))
    assert r.status == 200 and r.body == HTML_FILE
    assert hashlib.sha256(r.body).hexdigest() == HTML_SHA
    assert all("?" not in p for p in asked), asked


# ---------------------------------------------------------------- the Snippet's own promises


def test_upstream_requests_per_kind(html_worker, html_upstream):
    """Every kind of request costs one upstream request, a Pyodide file two when the first base
    is broken; the Snippet never more than 2 (the Pro plan's subrequest limit)."""
    o = html_worker.origin
    kinds = {
        "project page": (f"{o}/pypi/simple/mm-html/", MICROPIP_ACCEPT, 1),
        "project page, html": (f"{o}/simple/mm-html/", "text/html", 1),
        "root listing": (f"{o}/simple/", PEP691, 1),
        "legacy json": (f"{o}/pypi/mm-html/json", None, 1),
        "version json": (f"{o}/pypi/mm-html/1.0/json", None, 1),
        "file": (f"{o}/files/packages/ab/cd/mm_html-1.0%2Bcpu-py3-none-any.whl", None, 1),  # > 1 KB
        "pyodide file": (pyodide(html_worker, "pyodide.asm.wasm"), None, 2),  # > 1 KB: not cached
    }
    counts = {}
    for kind, (url, accept, expected) in kinds.items():
        r, asked = upstream_requests(html_upstream, lambda: get(url, accept))
        assert r.status_code == 200, (kind, r.text)
        counts[kind] = len(asked)
        if html_worker.target == "worker" and kind in ("project page", "project page, html",
                                                       "legacy json", "version json"):
            continue  # the Worker may answer again from its Cache API: 0 or 1
        assert len(asked) == expected, (kind, asked)
    assert max(counts.values()) <= 2, counts


def test_snippet_bundle_size_and_no_bindings(tmp_path):
    """The default build (what users deploy) fits the 32 KB limit, and the source it is built
    from reads no binding (`env`) at all."""
    size = build_snippet(tmp_path / "snippet.js", [])
    assert 4 * 1024 < size <= SNIPPET_LIMIT
    text = (tmp_path / "snippet.js").read_text()
    assert "https://cdn.jsdelivr.net/pyodide" in text and "https://pypi.org" in text
    entry = (WORKER_DIR / "src" / "snippet.js").read_text()
    assert "env" not in entry.split("export default", 1)[1]


def test_snippet_serves_with_no_bindings(mirrors):
    """serve.mjs gives the Snippet no bindings; its compiled-in settings still reach upstream."""
    snippet = mirrors("html", "snippet")
    assert 4 * 1024 < snippet.snippet_bytes <= SNIPPET_LIMIT
    r = get(f"{snippet.origin}/pypi/simple/mm-html/", MICROPIP_ACCEPT)
    assert r.status_code == 200 and r.headers["X-Mirror-Cache"] == "pass"


def test_snippet_refuses_pages_over_its_memory_budget(index_upstream):
    """A page bigger than MAX_PAGE_BYTES is a quick 502 (the client moves on), not error 1204."""
    with worker_mirror(index_upstream, max_page_bytes=200, target="snippet") as small:
        r = get(f"{small.origin}/pypi/simple/mm-app/", MICROPIP_ACCEPT)
        assert r.status_code == 502 and "larger than" in r.text
        assert_cors(r)


def test_dist_snippet_command():
    """`npm run build:snippet` writes worker/dist/snippet.js."""
    done = subprocess.run(["npm", "run", "-s", "build:snippet"], cwd=WORKER_DIR,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    built = WORKER_DIR / "dist" / "snippet.js"
    assert f"BUILT {built} {built.stat().st_size}" in done.stdout
    assert Path(built).stat().st_size <= SNIPPET_LIMIT
