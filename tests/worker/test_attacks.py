"""Requests and upstream answers the issue-13 tests did not have, on the Worker and the Snippet.

An attack upstream (`A`) answers with redirects (to itself and to a foreign origin `B`),
redirect loops, 206/204 answers, a page bigger than the Snippet parses, and a page served from
a moved location. `B` records every request: it must never be contacted (no open proxy).
"""

from __future__ import annotations

import http.server
import json
import re
import threading

import pytest
import requests

from support.worker_mirror import start_worker, stop_worker
from test_worker import MICROPIP_ACCEPT, PEP691, assert_cors, get, raw_get
from worker_upstreams import HTML_FILE, PYODIDE_A, PYODIDE_VERSION

SNIPPET_PAGE_LIMIT = 128 * 1024  # the Snippet's default MAX_PAGE_BYTES
BIG_NAMES = 6000  # links on the big page: about 300 KB of HTML


# Real file names with "+" (local versions) and "!" (epochs), as upstream links spell them.
ROUND_TRIP = {
    "/packages/mm_rt-1.0+cpu-py3-none-any.whl": b"raw plus\n",
    "/packages/mm_rt-2.0%2bcpu-py3-none-any.whl": b"lower-case %2b\n",
    "/packages/mm_rt-1!1.0.tar.gz": b"raw bang\n",
    "/packages/mm_rt-3%211.0.tar.gz": b"encoded bang\n",
    "/packages/mm_rt-4.0~rc1.tar.gz": b"tilde\n",
}


def same_escapes(path: str) -> str:
    """RFC 3986: %2b and %2B are the same; workerd's fetch sends the upper-case form."""
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), path)


ROUND_TRIP_SERVED = {same_escapes(p): body for p, body in ROUND_TRIP.items()}
FOREIGN_PAGE = (b'<html><head><base href="https://evil.invalid/base/"></head><body>'
                b'<a href="//other.invalid/packages/a.whl">a.whl</a><a href="b.whl">b.whl</a>'
                b'<a href="/packages/c.whl">c.whl</a></body></html>')
BAD_BASES = {"mm-badbase-js": "javascript:alert(1)//", "mm-badbase-data": "data:text/html,x/",
             "mm-badbase-invalid": "http://[not-a-host/"}
# Valid HTML a regex can trip on: ">" inside a quoted attribute (HTML allows it), an anchor in
# a comment (not a link), and a single-quoted attribute holding a double quote.
TRICKY_HTML = (b'<html><body><!-- <a href="/packages/old.whl">old.whl</a> -->\n'
               b'<a href="/packages/real.whl#sha256=00" data-requires-python=">=3.8">real.whl</a>\n'
               b"<a data-yanked='said \"no\"' href='/packages/real.whl'>real-again.whl</a>\n"
               b"</body></html>")
# 2 MiB of anchors whose quotes never close: a backtracking parser spends minutes on it.
BROKEN_HTML = b'<a href="x>' * (2 * 1024 * 1024 // 11)
HOSTILE_ROOT = (b'<html><body><script>alert(1)</script><a href="javascript:alert(2)">mm-x</a>'
                b'<a href="mm-y/">mm-y</a></body></html>')


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]
    foreign: str  # origin of the foreign server, for redirects that leave the upstreams
    trusted: str  # origin of a server the mirror is configured with (its last Pyodide base)

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/octet-stream", **headers) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()


class ForeignServer(Recorder):
    def do_GET(self):
        self.seen.append(self.path)
        page = '<a href="/packages/evil.whl">evil.whl</a>'
        self._send(200, page.encode(), "text/html")


class AttackUpstream(Recorder):
    def do_GET(self):
        self.seen.append(self.path)
        path = self.path
        if path in ("/simple/mm-away/", "/packages/away.whl", "/pypi/mm-away/json",
                    f"/pyodide-away/{PYODIDE_VERSION}/full/pyodide.mjs"):
            self._send(302, b"", Location=f"{self.foreign}{path}")
        elif path.startswith("/pyodide-badlocation/"):
            self._send(302, b"", Location="http://[not-a-host/x")
        elif path == "/simple/mm-relay/":  # protocol-relative Location: another host too
            self._send(301, b"", Location="//localhost:1/simple/mm-relay/")
        elif path == "/packages/to-trusted.whl":  # another configured upstream: followed
            self._send(302, b"", Location=f"{self.trusted}/pyodide-c/to-trusted.whl")
        elif path == "/packages/moved.whl":  # same origin: followed
            self._send(301, b"", Location="/packages/real.whl")
        elif path == "/packages/real.whl":
            self._send(200, HTML_FILE)
        elif path == "/packages/loop.whl" or path.startswith("/pyodide-loop/"):
            self._send(302, b"", Location=path)
        elif path.startswith(f"/pyodide-ok/{PYODIDE_VERSION}/full/") and path.rsplit("/", 1)[1] in PYODIDE_A:
            self._send(200, PYODIDE_A[path.rsplit("/", 1)[1]])
        elif path == "/packages/partial.whl":
            self._send(206, HTML_FILE[:10], Content_Range=f"bytes 0-9/{len(HTML_FILE)}")
        elif path == "/packages/empty.whl":
            self._send(204)
        elif path == "/packages/notmodified.whl":
            self._send(304)
        elif path == "/simple/mm-foreign/":  # links and a <base href> on hosts that are not upstreams
            self._send(200, FOREIGN_PAGE, "text/html")
        elif path in ("/simple/mm-odd-json/", "/pypi/mm-odd-json/json"):  # entries that are no file
            files = [None, 5, "x.whl", {"filename": "nourl.whl"}, {"filename": "numurl.whl", "url": 7},
                     {"filename": "real.whl", "url": "/packages/real.whl", "hashes": {}}]
            page = {"meta": {"api-version": "1.0"}, "name": "mm-odd-json", "files": files,
                    "urls": files, "releases": {"1.0": files, "2.0": None}}
            self._send(200, json.dumps(page).encode(), "application/json")
        elif path.startswith("/simple/mm-badbase-"):  # <base href> that browsers ignore
            href = BAD_BASES[path.split("/")[2]]
            page = f'<html><head><base href="{href}"></head><body><a href="real.whl">real.whl</a></body></html>'
            self._send(200, page.encode(), "text/html")
        elif path == "/simple/mm-broken-html/":
            self._send(200, BROKEN_HTML, "text/html")
        elif path == "/simple/mm-tricky-html/":
            self._send(200, TRICKY_HTML, "text/html")
        elif path == "/simple/mm-foreign-json/":
            page = {"meta": {"api-version": "1.0"}, "name": "mm-foreign-json", "files": [
                {"filename": "a.whl", "url": "https://evil.invalid/packages/a.whl", "hashes": {}},
                {"filename": "b.whl", "url": "//evil.invalid/packages/b.whl", "hashes": {}}]}
            self._send(200, json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
        elif path == "/pypi/mm-canon/json":  # what pypi.org does for a non-canonical name
            self._send(301, b"", Location="/pypi/MM-Canon/json")
        elif path == "/pypi/MM-Canon/json":
            entry = {"filename": "real.whl", "url": "/packages/real.whl"}
            self._send(200, ('{"info": {}, "urls": [%s]}' % json.dumps(entry)).encode(), "application/json")
        elif path == "/simple/mm-moved/":
            self._send(301, b"", Location="/elsewhere/deeper/mm-moved/")
        elif path == "/elsewhere/deeper/mm-moved/":
            self._send(200, b'<a href="../../packages/real.whl#sha256=00">real.whl</a>', "text/html")
        elif path == "/simple/mm-rt/":
            links = "".join(f'<a href="{href}">{href.rsplit("/", 1)[1]}</a>\n' for href in ROUND_TRIP)
            self._send(200, links.encode(), "text/html")
        elif same_escapes(path) in ROUND_TRIP_SERVED:
            self._send(200, ROUND_TRIP_SERVED[same_escapes(path)])
        elif path == "/simple/":  # a hostile root page: passed through when HTML is asked for
            self._send(200, HOSTILE_ROOT, "text/html")
        elif path == "/simple/mm-big/":
            links = "".join(f'<a href="/packages/mm_big-1.0.{i}-py3-none-any.whl">mm_big-1.0.{i}-py3-none-any.whl</a>\n'
                            for i in range(BIG_NAMES))
            self._send(200, links.encode(), "text/html")
        else:
            self._send(404, b"no such page", "text/plain")


def _serve(handler_class, **attrs):
    handler = type("Handler", (handler_class,), attrs)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def upstreams():
    """(attack origin, its request log, foreign origin, the foreign server's request log,
    trusted origin, the trusted server's request log)."""
    foreign_seen: list[str] = []
    attack_seen: list[str] = []
    trusted_seen: list[str] = []
    foreign, foreign_origin = _serve(ForeignServer, seen=foreign_seen)
    trusted, trusted_origin = _serve(ForeignServer, seen=trusted_seen)
    attack, attack_origin = _serve(AttackUpstream, seen=attack_seen, foreign=foreign_origin,
                                   trusted=trusted_origin)
    yield attack_origin, attack_seen, foreign_origin, foreign_seen, trusted_origin, trusted_seen
    for server in (attack, foreign, trusted):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=["worker", "snippet"])
def attacked(request, upstreams):
    origin = upstreams[0]
    mirror = start_worker(origin, timeout_ms=3000, target=request.param, upstream_pyodide=[
        f"{origin}/pyodide-loop", f"{origin}/pyodide-ok", f"{upstreams[4]}/pyodide-c"])
    yield mirror
    stop_worker(mirror)


def asked_during(log, do):
    before = len(log)
    result = do()
    return result, log[before:]


# ---------------------------------------------------------------- upstream redirects


@pytest.mark.parametrize("path, accept", [
    ("/pypi/simple/mm-away/", MICROPIP_ACCEPT),
    ("/simple/mm-away/", "text/html"),
    ("/files/packages/away.whl", None),
    ("/pypi/mm-away/json", None),
    ("/simple/mm-relay/", MICROPIP_ACCEPT),
])
def test_redirect_to_another_origin_is_not_followed(attacked, upstreams, path, accept):
    """An upstream redirect off its own origin is a 502: the mirror does not fetch (and so
    does not serve, or resolve page links against) whatever host the upstream names."""
    _, _, _, foreign_seen, *_ = upstreams
    before = len(foreign_seen)
    r = get(f"{attacked.origin}{path}", accept)
    assert r.status_code == 502, (path, r.status_code, r.text)
    assert "another origin" in r.text
    assert_cors(r)
    assert foreign_seen[before:] == []


@pytest.mark.parametrize("target", ["worker", "snippet"])
def test_pyodide_bases_that_redirect_away_or_nowhere(upstreams, target):
    """A Pyodide base that redirects to another origin, or to a Location that is no URL, is
    skipped: the mirror moves on to its next base (the Snippet can afford one skip)."""
    origin, _, _, foreign_seen, *_ = upstreams
    bad = ["away", "badlocation"] if target == "worker" else ["away"]
    mirror = start_worker(origin, target=target, upstream_pyodide=[
        *(f"{origin}/pyodide-{b}" for b in bad), f"{origin}/pyodide-ok"])
    try:
        before = len(foreign_seen)
        r = get(f"{mirror.origin}/pyodide/{PYODIDE_VERSION}/full/pyodide.mjs")
        assert r.status_code == 200 and r.content == PYODIDE_A["pyodide.mjs"], r.text
        assert r.headers["X-Mirror-Upstream"] == str(len(bad) + 1)
        assert foreign_seen[before:] == []
    finally:
        stop_worker(mirror)


def test_same_origin_redirects_followed(attacked):
    """pypi.org redirects a non-canonical name in its JSON API; files may move on their host."""
    r = get(f"{attacked.origin}/files/packages/moved.whl")
    assert r.status_code == 200 and r.content == HTML_FILE
    r = get(f"{attacked.origin}/pypi/mm-canon/json")
    assert r.status_code == 200, r.text
    assert r.json()["urls"][0]["url"] == f"{attacked.origin}/files/packages/real.whl"


def test_redirect_to_another_configured_upstream_followed(attacked, upstreams):
    """A file host redirecting to another host the mirror is configured with (as pypi.org to
    files.pythonhosted.org would) is not an open proxy: followed."""
    *_, trusted_seen = upstreams
    r, asked = asked_during(trusted_seen, lambda: get(f"{attacked.origin}/files/packages/to-trusted.whl"))
    assert r.status_code == 200 and r.content == b'<a href="/packages/evil.whl">evil.whl</a>', r.text
    assert asked == ["/pyodide-c/to-trusted.whl"]


def test_relative_links_resolve_against_the_redirected_page(attacked):
    page = get(f"{attacked.origin}/pypi/simple/mm-moved/", PEP691).json()
    assert [f["url"] for f in page["files"]] == [f"{attacked.origin}/files/elsewhere/packages/real.whl"]


def test_redirect_loop_stays_within_the_upstream_budget(attacked, upstreams):
    """A looping redirect costs a bounded number of upstream requests: at most 2 for the Snippet
    (its subrequest limit), and the Worker still reaches its second Pyodide base."""
    _, seen, *_ = upstreams
    budget = 2 if attacked.target == "snippet" else 8
    r, asked = asked_during(seen, lambda: get(f"{attacked.origin}/files/packages/loop.whl"))
    assert r.status_code == 502 and len(asked) <= budget, asked
    assert_cors(r)
    r, asked = asked_during(seen, lambda: get(f"{attacked.origin}/pyodide/{PYODIDE_VERSION}/full/pyodide.mjs"))
    assert len(asked) <= budget, asked
    if attacked.target == "worker":
        assert r.status_code == 200 and r.content == PYODIDE_A["pyodide.mjs"], r.text
        assert asked[-1] == f"/pyodide-ok/{PYODIDE_VERSION}/full/pyodide.mjs"
    else:
        assert r.status_code == 502


# ---------------------------------------------------------------- upstream answers that are not a whole file


@pytest.mark.parametrize("name", ["partial.whl", "empty.whl", "notmodified.whl"])
def test_partial_or_empty_upstream_answer_is_not_a_file(attacked, name):
    """206, 204 or 304 from upstream is not the file: never served (or cached for a year) as a 200."""
    for _ in range(2):
        r = get(f"{attacked.origin}/files/packages/{name}")
        assert r.status_code == 502, (r.status_code, r.content[:40])
        assert_cors(r)


def test_range_request_never_caches_a_part(attacked):
    r = get(f"{attacked.origin}/files/packages/real.whl", headers={"Range": "bytes=0-3"})
    if r.status_code == 206:
        assert r.content == HTML_FILE[:4] and r.headers["Content-Range"].startswith("bytes 0-3/")
    else:
        assert r.status_code == 200 and r.content == HTML_FILE
    for _ in range(2):  # the second one from the Worker's Cache API
        r = get(f"{attacked.origin}/files/packages/real.whl")
        assert r.status_code == 200 and r.content == HTML_FILE


# ---------------------------------------------------------------- pages


def test_page_over_the_snippet_limit(attacked):
    """~300 KB of HTML: the Snippet answers 502 (it parses 128 KiB at most), the Worker parses it."""
    r = get(f"{attacked.origin}/pypi/simple/mm-big/", PEP691)
    assert_cors(r)
    if attacked.target == "snippet":
        assert r.status_code == 502 and "larger than" in r.text
    else:
        assert r.status_code == 200 and len(r.json()["files"]) == BIG_NAMES


# ---------------------------------------------------------------- methods and paths


ROUTES = [
    "/simple/", "/pypi/simple/mm-html/", "/pypi/mm-html/json", "/pypi/mm-html/1.0/json",
    "/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl", f"/pyodide/{PYODIDE_VERSION}/full/pyodide.mjs",
]


@pytest.mark.parametrize("path", ROUTES)
def test_methods_on_every_route(html_worker, html_upstream, path):
    """OPTIONS is a preflight and POST/PUT/DELETE a 405, neither reaching the upstream; HEAD
    answers the GET's status and headers with no body."""
    _, seen = html_upstream
    url = f"{html_worker.origin}{path}"
    before = len(seen)
    r = requests.options(url, headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "GET"}, timeout=30)
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(method, url, data=b"x", timeout=30)
        assert r.status_code == 405 and "GET" in r.headers["Allow"], method
        assert_cors(r)
    assert seen[before:] == []
    full = get(url, PEP691)
    head = requests.head(url, headers={"Accept": PEP691}, timeout=30)
    assert full.status_code == head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == full.headers["Content-Type"]


@pytest.mark.parametrize("target", [
    "/files/%252e%252e/etc/passwd",
    "/files/packages/%252e%252e%252fx",
    "/files/packages/x.whl;jsessionid=1",
    "/files/packages/a%3Bb.whl",
    "/files/packages/%C3%A9.whl",
    "/files/packages/x.whl/",
    "/files/packages/%00.whl",
    "/files/packages/x%0a.whl",
    "/files/packages/%2fetc%2fpasswd",
    "/pyodide/v../full/pyodide.mjs",
    "/pyodide/v0.99.1../full/pyodide.mjs",
    "/pyodide/v0.99.1%2F..%2F/full/pyodide.mjs",
    "/pyodide/v0.99.1/FULL/pyodide.mjs",
    "/pyodide/V0.99.1/full/pyodide.mjs",
    "/pyodide/v0.99.1/full/",
    "/pyodide/v0.99.1/full//pyodide.mjs",
    "/pyodide/v0.99.1/full/pyodide.mjs/",
    "/pyodide/v0.99.1/full/%252e%252e",
    "/pyodide/v0.99.1/full/.%2e",
    "/pyodide/v0.99.1/full/..%5c..%5cx",
    "/pyodide/v0.99.1/full/a%2fb",
    "/pyodide/v0.99.1/full/x;y",
    "/pyodide/v0.99.1/full/%E2%80%AEgpj.mjs",
    "/pyodide/v0.99.1/full/" + "a" * 300 + "%2F",
    "/pyodide//v0.99.1/full/pyodide.mjs",
    "/pypi/simple/mm%252dhtml/",
    "/pypi/mm-html/%252e%252e/json",
    "/pypi/mm-html/1.0%2F..%2F..%2Fx/json",
])
def test_more_refused_paths(html_worker, html_upstream, target):
    _, seen = html_upstream
    before = len(seen)
    r = raw_get(html_worker.origin, target)
    assert r.status == 404, (target, r.status, r.body)
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert seen[before:] == []


@pytest.mark.parametrize("query", [
    "?format=", "?format=application/json", "?format=text/html;q=0",
    "?format=application/vnd.pypi.simple.v1%2Bjson;q=0", "?format=%ZZ", "?format=*/*",
])
def test_format_queries_that_name_nothing_served(html_worker, html_upstream, query):
    _, seen = html_upstream
    before = len(seen)
    for path in ("/simple/", "/pypi/simple/mm-html/"):
        r = get(f"{html_worker.origin}{path}{query}", PEP691)
        assert r.status_code == 406, (path, query, r.status_code)
        assert_cors(r)
    assert seen[before:] == []


@pytest.mark.parametrize("accept, wants_json", [
    ("*/*", False),
    ("application/json", False),
    (f"{PEP691};q=0", False),
    (f"{PEP691};q=0.2, text/html;q=0.1", True),
    (f"text/html;q=0.9, {PEP691};q=abc", False),
    (f"TEXT/HTML;q=0.5, {PEP691.upper()};q=0.6", True),
])
def test_accept_edge_cases(html_worker, accept, wants_json):
    r = get(f"{html_worker.origin}/pypi/simple/mm-html/", accept)
    assert r.status_code == 200
    assert (r.headers["Content-Type"] == PEP691) == wants_json, (accept, r.headers["Content-Type"])


def test_queries_on_file_routes_are_dropped(html_worker, html_upstream):
    _, seen = html_upstream
    for path in ("/files/packages/ab/cd/mm_html-1.0-py3-none-any.whl", f"/pyodide/{PYODIDE_VERSION}/full/pyodide.mjs"):
        before = len(seen)
        r = raw_get(html_worker.origin, f"{path}?url=http://127.0.0.1:1/&format={PEP691}")
        assert r.status == 200
        assert all("?" not in p for p in seen[before:]), seen[before:]


def test_file_names_round_trip_through_rewritten_urls(attacked, upstreams):
    """Each link of the page, rewritten, downloads the upstream's bytes, and the upstream is
    asked for the path exactly as its link spelled it."""
    _, seen, *_ = upstreams
    page = get(f"{attacked.origin}/pypi/simple/mm-rt/", PEP691).json()
    urls = {f["filename"]: f["url"] for f in page["files"]}
    assert len(urls) == len(ROUND_TRIP)
    for path, body in ROUND_TRIP.items():
        url = urls[path.rsplit("/", 1)[1]]
        assert url == f"{attacked.origin}/files{path}"
        r, asked = asked_during(seen, lambda: get(url))
        assert r.status_code == 200 and r.content == body, (url, r.status_code, r.text)
        assert [same_escapes(p) for p in asked] == [same_escapes(path)]


def test_no_upstream_page_can_run_script_on_the_mirror_origin(attacked):
    """The root listing is passed through as the upstream wrote it (pypi.org's is ~30 MB, too
    big to rewrite): every answer forbids script, so a hostile upstream page is inert here."""
    for path, accept in (("/simple/", "text/html"), ("/pypi/simple/mm-rt/", "text/html"),
                         ("/files/packages/mm_rt-1!1.0.tar.gz", None), ("/nothing", None)):
        r = get(f"{attacked.origin}{path}", accept)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "sandbox" in csp and "default-src 'none'" in csp, (path, r.headers)


@pytest.mark.parametrize("project", ["mm-foreign", "mm-foreign-json"])
def test_links_on_other_hosts_are_never_mapped_to_files(attacked, project):
    """Links (or a <base href>) on hosts that are not an upstream stay absolute URLs on those
    hosts: mapping them under /files/ would fetch some other file from UPSTREAM_FILES."""
    page = get(f"{attacked.origin}/pypi/simple/{project}/", PEP691).json()
    urls = sorted(f["url"] for f in page["files"])
    assert all(not u.startswith(attacked.origin) for u in urls), urls
    if project == "mm-foreign":
        assert urls == ["https://evil.invalid/base/b.whl", "https://evil.invalid/packages/c.whl",
                        "https://other.invalid/packages/a.whl"]  # "//" takes the base's scheme
    else:  # a protocol-relative URL takes the upstream page's scheme
        assert urls == ["http://evil.invalid/packages/b.whl", "https://evil.invalid/packages/a.whl"]


def test_json_entries_that_are_no_file_are_dropped(attacked):
    """Entries that are not objects, or have no URL string, are dropped (not turned into
    <origin>/files/.../undefined links, nor failing the whole page)."""
    real = f"{attacked.origin}/files/packages/real.whl"
    r = get(f"{attacked.origin}/pypi/simple/mm-odd-json/", PEP691)
    assert r.status_code == 200, r.text
    assert [(f["filename"], f["url"]) for f in r.json()["files"]] == [("real.whl", real)]
    html = get(f"{attacked.origin}/pypi/simple/mm-odd-json/", "text/html").text
    assert "undefined" not in html and f'href="{real}"' in html
    data = get(f"{attacked.origin}/pypi/mm-odd-json/json").json()
    assert [f["url"] for f in data["urls"]] == [real] == [f["url"] for f in data["releases"]["1.0"]]


@pytest.mark.parametrize("project", sorted(BAD_BASES))
def test_base_href_browsers_ignore_is_ignored(attacked, project):
    """HTML: a <base href> that does not parse, or is javascript: or data:, is ignored; links
    resolve against the page itself (the page is not lost, its links not dropped)."""
    r = get(f"{attacked.origin}/pypi/simple/{project}/", PEP691)
    assert r.status_code == 200, r.text
    assert [f["url"] for f in r.json()["files"]] == [f"{attacked.origin}/files/simple/{project}/real.whl"]


def test_html_that_trips_a_naive_parser(attacked):
    """What Python's HTMLParser (micropip's own) reads from the page, the mirror reads too."""
    page = get(f"{attacked.origin}/pypi/simple/mm-tricky-html/", PEP691).json()
    real = f"{attacked.origin}/files/packages/real.whl"
    got = [(f["filename"], f["url"], f.get("requires-python"), f.get("yanked")) for f in page["files"]]
    assert got == [("real.whl", real, ">=3.8", None), ("real-again.whl", real, None, 'said "no"')]


def test_broken_html_is_parsed_in_one_pass(attacked):
    """A 2 MiB page of unclosed quotes gets an answer (within the client's 30 s): the Worker
    parses it in one pass (a lazy-regex parser took minutes); the Snippet refuses it by size."""
    r = get(f"{attacked.origin}/pypi/simple/mm-broken-html/", PEP691)
    assert_cors(r)
    if attacked.target == "snippet":
        assert r.status_code == 502 and "larger than" in r.text
    else:
        assert r.status_code == 200, r.text
        assert r.json()["files"] == []  # not one whole anchor
