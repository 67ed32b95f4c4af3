"""The Worker (worker/src/index.js) running in workerd via Miniflare, checked over real HTTP.

Upstreams are real loopback servers (see conftest.py); the Worker is on its own port, so every
answer it gives must carry its own CORS headers.
"""

from __future__ import annotations

import hashlib
import http.client
import time
from urllib.parse import urlsplit

import pytest
import requests

from worker_upstreams import HTML_FILE, HTML_SHA, HUGE_NAME, HUGE_SIZE, STALL_FILE, STALL_SECONDS

PEP691 = "application/vnd.pypi.simple.v1+json"
MICROPIP_ACCEPT = f"{PEP691}, */*;q=0.01"
PEP691_HTML = "application/vnd.pypi.simple.v1+html"


def get(url, accept=None, **kw):
    headers = kw.pop("headers", {})
    if accept:
        headers["Accept"] = accept
    return requests.get(url, headers=headers, timeout=30, **kw)


def assert_cors(r):
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
    assert "etag" in r.headers.get("Access-Control-Expose-Headers", "").lower()


def raw_get(origin: str, target: str) -> http.client.HTTPResponse:
    """Send a request line exactly as given (no client-side path normalization)."""
    parts = urlsplit(origin)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


# ---------------------------------------------------------------- negotiation and rewriting


@pytest.mark.parametrize("prefix", ["/pypi/simple", "/simple"])
def test_json_for_micropip_with_every_file_url_on_the_worker(worker, projects_dir, prefix):
    _, built = projects_dir
    r = get(f"{worker.origin}{prefix}/mm-app/", MICROPIP_ACCEPT)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == PEP691
    assert_cors(r)
    page = r.json()
    assert page["name"] == "mm-app"
    assert sorted(f["filename"] for f in page["files"]) == sorted(
        info["filename"] for info in built["mm-app"].values()
    )
    for f in page["files"]:
        assert f["url"].startswith(f"{worker.origin}/files/"), f["url"]
        assert f["core-metadata"] is True  # upstream's PEP 658 flag is kept


@pytest.mark.parametrize(
    "accept, ctype",
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html", "text/html"),
        (PEP691_HTML, PEP691_HTML),
        (f"{PEP691};q=0.5, text/html", "text/html"),
        (f"{PEP691_HTML};q=0.5, {PEP691}", PEP691),
    ],
)
def test_content_negotiation(worker, accept, ctype):
    r = get(f"{worker.origin}/pypi/simple/mm-lib-a/", accept)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == ctype
    assert "Accept" in r.headers.get("Vary", "")


def test_html_links_point_at_the_worker(worker):
    r = get(f"{worker.origin}/pypi/simple/mm-lib-a/", "text/html")
    hrefs = [part.split('"', 1)[0] for part in r.text.split('href="')[1:]]
    assert len(hrefs) == 3
    assert all(h.startswith(f"{worker.origin}/files/resources/mm-lib-a/") for h in hrefs), hrefs
    assert 'data-core-metadata="true"' in r.text


def test_non_normalized_name_is_served_as_the_normalized_project(worker):
    a = get(f"{worker.origin}/pypi/simple/MM_Lib.A/", PEP691)
    b = get(f"{worker.origin}/pypi/simple/mm-lib-a/", PEP691)
    assert a.status_code == 200 and a.url == f"{worker.origin}/pypi/simple/MM_Lib.A/"  # no redirect
    assert a.json()["files"] == b.json()["files"]


def test_rewritten_urls_download_the_same_bytes(worker, projects_dir):
    _, built = projects_dir
    page = get(f"{worker.origin}/pypi/simple/mm-lib-b/", MICROPIP_ACCEPT).json()
    by_name = {info["filename"]: info for info in built["mm-lib-b"].values()}
    for f in page["files"]:
        r = get(f["url"])
        assert r.status_code == 200
        assert_cors(r)
        assert hashlib.sha256(r.content).hexdigest() == by_name[f["filename"]]["sha256"]
        meta = get(f["url"] + ".metadata")  # PEP 658, what micropip fetches first
        assert meta.status_code == 200 and b"Name: mm-lib-b" in meta.content


def test_html_only_upstream_converted_to_json(html_worker, html_upstream):
    origin, _ = html_upstream
    r = get(f"{html_worker.origin}/pypi/simple/mm-html/", MICROPIP_ACCEPT)
    assert r.status_code == 200 and r.headers["Content-Type"] == PEP691
    files = {f["filename"]: f for f in r.json()["files"]}
    new = files["mm_html-1.0-py3-none-any.whl"]
    assert new["url"] == f"{html_worker.origin}/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl"
    assert new["hashes"] == {"sha256": HTML_SHA}
    assert new["requires-python"] == ">=3.8"
    assert new["core-metadata"] == {"sha256": "00ff"}
    old = files["mm_html-0.9-py3-none-any.whl"]
    assert old["url"] == f"{html_worker.origin}/files/packages/ef/mm_html-0.9-py3-none-any.whl"
    assert old["yanked"] == "broken"
    # a link to a host that is neither upstream is left alone: the Worker proxies only its upstreams
    assert files["mm_html-0.8.tar.gz"]["url"] == "https://elsewhere.invalid/x/mm_html-0.8.tar.gz"
    body = get(new["url"]).content
    assert body == HTML_FILE and hashlib.sha256(body).hexdigest() == new["hashes"]["sha256"]


def test_html_from_html_upstream_keeps_hash_and_attributes(html_worker):
    r = get(f"{html_worker.origin}/simple/mm-html/", "text/html")
    assert r.status_code == 200
    assert f'href="{html_worker.origin}/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl#sha256={HTML_SHA}"' in r.text
    assert 'data-requires-python="&gt;=3.8"' in r.text
    assert 'data-yanked="broken"' in r.text


def test_legacy_json_api_rewritten(html_worker):
    r = get(f"{html_worker.origin}/pypi/MM_HTML/json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert_cors(r)
    data = r.json()
    url = f"{html_worker.origin}/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl"
    assert data["urls"][0]["url"] == url and data["releases"]["1.0"][0]["url"] == url


def test_root_listing(worker):
    r = get(f"{worker.origin}/pypi/simple/", PEP691)
    assert r.status_code == 200
    assert_cors(r)
    assert "mm-app" in {p["name"] for p in r.json()["projects"]}


# ---------------------------------------------------------------- CORS, errors, refused paths


def test_preflight(worker):
    r = requests.options(
        f"{worker.origin}/pypi/simple/mm-app/",
        headers={
            "Origin": "http://127.0.0.1:1",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept, if-none-match",
        },
        timeout=30,
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    assert "accept" in allowed and "if-none-match" in allowed


def test_upstream_404_passed_on_with_cors(worker):
    r = get(f"{worker.origin}/pypi/simple/mm-does-not-exist/", MICROPIP_ACCEPT)
    assert r.status_code == 404
    assert_cors(r)
    r = get(f"{worker.origin}/files/resources/mm-app/nope-1.0-py3-none-any.whl")
    assert r.status_code == 404
    assert_cors(r)


def test_legacy_json_missing_upstream_is_404(worker):
    r = get(f"{worker.origin}/pypi/mm-app/json")  # simple-repository-server has no JSON API
    assert r.status_code == 404
    assert_cors(r)


def test_upstream_down_is_502_at_once(dead_worker):
    start = time.monotonic()
    for path in ("/pypi/simple/mm-app/", "/files/resources/mm-app/x.whl", "/pypi/simple/", "/pypi/mm-app/json"):
        r = get(f"{dead_worker.origin}{path}", MICROPIP_ACCEPT)
        assert r.status_code == 502, path
        assert r.headers["Content-Type"].startswith("text/plain")
        assert "upstream" in r.text
        assert_cors(r)
    assert time.monotonic() - start < 5


def test_upstream_500_is_502(html_worker):
    r = get(f"{html_worker.origin}/pypi/simple/mm-error/", MICROPIP_ACCEPT)
    assert r.status_code == 502 and "500" in r.text
    assert_cors(r)


def test_upstream_that_never_answers_times_out_as_502(html_worker):
    start = time.monotonic()
    r = get(f"{html_worker.origin}/pypi/simple/mm-hang/", MICROPIP_ACCEPT)
    elapsed = time.monotonic() - start
    assert r.status_code == 502 and "timed out" in r.text
    assert_cors(r)
    assert 0.9 < elapsed < 5


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        "/",
        "/files/",
        "/files/../etc/passwd",
        "/files/%2e%2e/etc/passwd",
        "/files/packages/..%2f..%2fetc/passwd",
        "/files//etc/passwd",
        "/files/.hidden",
        "/files/a\\..\\..\\etc/passwd",  # backslashes count as slashes: /etc/passwd
        "/simple/../../etc/passwd",
        "/simple/bad%20name/",
        "/simple/-bad-/",
        "/pypi/simple/%2e%2e/",
        "/pypi/x/y/z/json",
        "/pypi/x/..%2f/json",
        "/pyodide/v0.1/full/../x",
        "/pyodide/v0.1/full/a/b",
        "/pyodide/latest/full/pyodide.mjs",
        "/pyodide/v0.1/other/pyodide.mjs",
        "/files/a%2fb",
        "/files/%2e%2e",
        "/files/a%5c..",
        "/admin",
    ],
)
def test_refused_paths(html_worker, html_upstream, target):
    _, seen = html_upstream
    before = len(seen)
    r = raw_get(html_worker.origin, target)
    assert r.status == 404, (target, r.status, r.body)
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert len(seen) == before, seen[before:]  # the upstream was not asked


def test_absolute_urls_in_path_are_not_proxied(html_worker, html_upstream, worker):
    origin, seen = html_upstream
    before = len(seen)
    other = urlsplit(worker.origin).netloc
    for target in (
        f"/files/{origin}/packages/ab/cd/mm_html-1.0-py3-none-any.whl",
        f"/files/http:/{other}/simple/",
        f"/files/http%3A%2F%2F{other}/simple/",
        f"/pypi/simple/http://{other}/",
    ):
        r = raw_get(html_worker.origin, target)
        assert r.status == 404, (target, r.status)
    assert len(seen) == before


def test_other_methods_refused(worker):
    r = requests.post(f"{worker.origin}/pypi/simple/mm-app/", data=b"x", timeout=30)
    assert r.status_code == 405
    assert_cors(r)


# ---------------------------------------------------------------- files: streaming and caching


def test_large_file_streamed_intact(worker, projects_dir):
    dest, _ = projects_dir
    page = get(f"{worker.origin}/pypi/simple/mm-huge/", MICROPIP_ACCEPT).json()
    (entry,) = page["files"]
    assert entry["filename"] == HUGE_NAME
    expected = hashlib.sha256((dest / "mm-huge" / HUGE_NAME).read_bytes()).hexdigest()
    for _ in range(2):  # first through workerd's fetch, then from the Cache API
        r = get(entry["url"], stream=True)
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == HUGE_SIZE
        digest = hashlib.sha256()
        for chunk in r.iter_content(64 * 1024):
            digest.update(chunk)
        assert digest.hexdigest() == expected


def test_file_body_is_streamed_not_buffered(html_worker):
    """The upstream stalls after 256 KiB: the first bytes must reach us before the stall ends."""
    url = f"{html_worker.origin}/files/packages/stall/mm_stall-1.0-py3-none-any.whl"
    start = time.monotonic()
    r = get(url, stream=True)
    first = r.raw.read(64 * 1024)
    first_at = time.monotonic() - start
    rest = r.raw.read()
    total = time.monotonic() - start
    assert first + rest == STALL_FILE
    assert first_at < STALL_SECONDS / 2 < total, (first_at, total)


def test_file_cache_headers_and_cache_hit(cached_worker):
    url = f"{cached_worker.origin}/files/resources/mm-lib-c/mm_lib_c-1.0.0-py3-none-any.whl"
    first = get(url)
    second = get(url)
    for r in (first, second):
        assert r.status_code == 200
        cc = r.headers["Cache-Control"]
        assert "max-age=31536000" in cc and "immutable" in cc and "public" in cc
        assert r.headers.get("ETag")
    assert second.headers["X-Mirror-Cache"] == "hit"
    assert first.content == second.content
    assert first.headers["ETag"] == second.headers["ETag"]


def test_file_if_none_match_is_304(worker):
    url = f"{worker.origin}/files/resources/mm-lib-c/mm_lib_c-2.0.0-py3-none-any.whl"
    etag = get(url).headers["ETag"]
    r = get(url, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert_cors(r)


def test_large_file_over_cache_limit_still_streams_and_is_not_cached(cached_html_worker):
    url = f"{cached_html_worker.origin}/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl"  # 4 KB > 1 KB limit
    for _ in range(2):
        r = get(url)
        assert r.content == HTML_FILE
        assert r.headers["X-Mirror-Cache"] == "miss"


def test_index_cache_headers_etag_and_304(cached_worker):
    worker = cached_worker
    url = f"{worker.origin}/pypi/simple/mm-lib-c/"
    first = get(url, MICROPIP_ACCEPT)
    assert first.headers["Cache-Control"] == "public, max-age=300"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    second = get(url, MICROPIP_ACCEPT)
    assert second.headers["X-Mirror-Cache"] == "hit" and second.headers["ETag"] == etag
    assert second.content == first.content
    r = get(url, MICROPIP_ACCEPT, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert_cors(r)
    weak = get(url, MICROPIP_ACCEPT, headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    other = get(url, MICROPIP_ACCEPT, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    html = get(url, "text/html")  # a different representation: its own ETag, no 304
    assert html.headers["ETag"] != etag
    assert get(url, "text/html", headers={"If-None-Match": etag}).status_code == 200


def test_head_requests(worker):
    r = requests.head(f"{worker.origin}/files/resources/mm-lib-c/mm_lib_c-1.1.0-py3-none-any.whl", timeout=30)
    assert r.status_code == 200 and r.content == b""
    assert_cors(r)
    r = requests.head(f"{worker.origin}/pypi/simple/mm-lib-c/", headers={"Accept": PEP691}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == PEP691
