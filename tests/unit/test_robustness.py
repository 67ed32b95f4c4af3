"""Faults in micropip-mirror's own machinery, as logic in CPython (micropip 0.6,
0.9 or 0.11 by venv): cancellation from outside, exceptions inside an attempt,
memory over a long session, the urllib transport under threads, the one rule
for the hash a file must match, and an install that outlives enable()/disable().
The browser half is tests/browser/test_robustness.py."""

import asyncio
import functools
import gc
import http.server
import json
import threading
import tracemalloc

import pytest

import micropip_mirror
from micropip_mirror.adapters import adapter_for
from micropip_mirror.errors import AttemptFailed
from micropip_mirror.mirrors import Mirror
from micropip_mirror.report import Record, Report
from micropip_mirror.router import MAX_JSON_DEPTH, MAX_KNOWN_FILES, json_depth
from micropip_mirror.transport import Response, UrllibTransport

from .fakes import Scripted, page, sha, wheel
from .test_micropip_patch import new_transaction
from .test_router import A, B, WHL, index, router, run

GOOD, BAD = wheel(), wheel(genuine=False)


# -- cancellation -----------------------------------------------------------------------


def test_cancelling_from_outside_benches_no_mirror_but_a_lost_race_does():
    t = Scripted({A.project_url("demo-pkg"): (5, index(A, [])),
                  B.project_url("demo-pkg"): (5, index(B, []))})
    r = router(t, hedge_after=0.01, timeout=10)

    async def cancel_midway():
        task = asyncio.ensure_future(r.project_page("demo-pkg"))
        while len(t.asked) < 2:  # both mirrors asked, both silent
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(cancel_midway())
    assert not r.health.is_benched(A) and not r.health.is_benched(B)
    assert [(a.outcome, a.reason) for a in r.report[-1].attempts] == [
        ("cancelled", "cancelled by the caller")] * 2

    # The same silence, but another mirror answers: the silent one is benched.
    t.routes[B.project_url("demo-pkg")] = index(B, [(WHL, "https://b.example/" + WHL, None)])
    r.cache.clear()
    run(r.project_page("demo-pkg"))
    assert r.health.is_benched(A) and not r.health.is_benched(B)
    assert r.report[-1].attempts[0].reason == "another mirror answered first"


# -- exceptions inside an attempt -------------------------------------------------------


class Raising(Scripted):
    """A transport with a bug: raises ``error`` for the URLs in ``broken``."""

    def __init__(self, routes, broken, error):
        super().__init__(routes)
        self.broken, self.error = broken, error

    async def fetch(self, url, **kwargs):
        if url in self.broken:
            self.asked.append(url)
            raise self.error
        return await super().fetch(url, **kwargs)


@pytest.mark.parametrize("error", [RuntimeError("boom"), RecursionError("too deep"), KeyError("x")])
def test_any_exception_inside_an_attempt_is_that_attempts_failure(error):
    good = index(B, [(WHL, "https://b.example/" + WHL, None)])
    t = Raising({B.project_url("demo-pkg"): good}, {A.project_url("demo-pkg")}, error)
    r = router(t)
    result = run(r.project_page("demo-pkg"))
    assert result.files[0].filename == WHL
    failed, ok = r.report[-1].attempts
    assert failed.outcome == "failed" and failed.reason.startswith(f"internal error: {type(error).__name__}")
    assert ok.outcome == "ok" and r.health.is_benched(A)


def test_deeply_nested_json_is_refused_before_parsing():
    deep = b'{"name": "demo-pkg", "files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    good = index(B, [(WHL, "https://b.example/" + WHL, None)])
    t = Scripted({A.project_url("demo-pkg"): page("x", deep), B.project_url("demo-pkg"): good})
    r = router(t)
    assert run(r.project_page("demo-pkg")).files[0].filename == WHL
    failed = r.report[-1].attempts[0]
    assert failed.reason == f"unusable answer: JSON nested deeper than {MAX_JSON_DEPTH} levels"


@pytest.mark.parametrize("body,depth", [
    (b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'{"s": "[[[{{{"}', 1),
    (b'{"s": "]]]]", "t": [[[[]]]]}', 5), (b'{"s": "\\\\", "t": [[]]}', 3),
    (b'{"s": "\\"[[[[", "t": []}', 2), (b"[" * 70 + b"]" * 70, 70), (b"", 0),
])
def test_json_depth_counts_brackets_outside_strings_only(body, depth):
    assert json_depth(body) == depth


# -- memory over a long session ---------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class AnyProject:
    """Answers every project URL of A with a page of three wheels (no sleep)."""

    PAGE = json.dumps({"name": "NAME", "files": [
        {"filename": f"NAME_U-{v}-py3-none-any.whl", "url": f"https://a.example/f/NAME-{v}.whl",
         "hashes": {"sha256": "ab" * 32}} for v in ("1.0", "2.0", "3.0")]}).encode()

    def __init__(self):
        self.calls = 0

    async def fetch(self, url, *, headers, timeout, total=None, on_answer=None):
        self.calls += 1
        name = url.rstrip("/").rsplit("/", 1)[-1].encode()
        body = self.PAGE.replace(b"NAME_U", name.replace(b"-", b"_")).replace(b"NAME", name)
        if on_answer:
            on_answer()
        return Response(url, 200, {"content-type": "application/vnd.pypi.simple.v1+json"}, body)


def test_ten_thousand_index_requests_keep_memory_flat():
    """A request every 200 ms, each for a new project: past 7,000 requests every
    bound is reached (report 500, cache: two ttl's worth, file registry); the
    cache's once-per-ttl sweep makes memory a sawtooth of period 1,500
    requests, so it is compared at the same phase, 8,500 and 10,000."""
    clock = Clock()
    r = router(AnyProject(), mirrors=(A,), cache_ttl=300)
    r.report = Report(limit=500)
    r.cache.clock = r.health.clock = clock

    async def session(start, stop):
        for i in range(start, stop):
            clock.now += 0.2
            await r.project_page(f"proj-{i}")

    def traced() -> int:
        gc.collect()  # what is only garbage is not held
        return tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        run(session(0, 8_500))
        first = traced()
        run(session(8_500, 10_000))
        second = traced()
    finally:
        tracemalloc.stop()
    assert r.transport.calls == 10_000
    assert len(r.report) == 500 and r.report.dropped == 9_500
    assert len(r.cache) <= 3_000  # what two ttl's brought in at most: expired ones evicted
    assert len(r._files) == MAX_KNOWN_FILES
    print(f"traced memory after 8,500 requests {first / 1e6:.2f} MB, after 10,000 {second / 1e6:.2f} MB")
    assert second - first < 0.02 * first  # flat


def test_report_keeps_the_last_records_and_says_how_many_it_dropped():
    report = Report(limit=3)
    for i in range(5):
        report.append(Record("index", f"p{i}"))
    assert [r.target for r in report] == ["p2", "p3", "p4"] and report.dropped == 2
    assert "2 older records dropped" in str(report)


# -- the urllib transport under threads -------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urllib_transport_is_safe_across_threads_and_answers_on_the_loop(local_server):
    transport = UrllibTransport()  # one instance shared by every thread
    results, errors = {}, []

    def worker(n):
        async def many():
            loop_thread = threading.get_ident()
            seen = []
            responses = await asyncio.gather(*(
                transport.fetch(f"{local_server}/{n}/{i}", headers={}, timeout=10,
                                on_answer=lambda: seen.append(threading.get_ident()))
                for i in range(20)))
            return responses, seen, loop_thread

        try:
            results[n] = asyncio.run(many())
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n, (responses, seen, loop_thread) in results.items():
        assert [r.body for r in responses] == [f"/{n}/{i}".encode() for i in range(20)]
        assert seen == [loop_thread] * 20  # on_answer never ran in a worker thread


# -- one rule for the expected hash -----------------------------------------------------


def listing(mirror, filename, url, sha256=None, metadata=False):
    """A PEP 691 page of one file; ``metadata``: its .metadata announced, with
    this sha256 (a str) or without a hash (True)."""
    entry = {"filename": filename, "url": url, "hashes": {"sha256": sha256} if sha256 else {}}
    if metadata:
        entry["core-metadata"] = {"sha256": metadata} if isinstance(metadata, str) else True
    return page(mirror.project_url("demo-pkg"),
                json.dumps({"name": "demo-pkg", "files": [entry]}).encode())


@pytest.mark.parametrize("kind", ["wheel", "metadata"])
def test_a_hash_missing_from_the_listing_page_comes_from_another_mirrors_listing(kind):
    """A lists the file without a hash and serves tampered bytes; B's listing
    of the same file name has the hash: A's bytes are refused, B's used."""
    meta_good = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0.0\n"
    meta_bad = meta_good + b"Requires-Dist: evil\n"  # well formed: only the hash tells
    url_a, url_b = "https://a.example/f/" + WHL, "https://b.example/g/" + WHL
    t = Scripted({A.project_url("demo-pkg"): listing(A, WHL, url_a, metadata=True),
                  B.project_url("demo-pkg"): listing(B, WHL, url_b, sha(GOOD), sha(meta_good)),
                  url_a: BAD, url_b: GOOD,
                  url_a + ".metadata": meta_bad, url_b + ".metadata": meta_good})
    r = router(t)
    run(r.project_page("demo-pkg"))  # served by A
    run(r.project_page.__self__._fetch_page(B, "demo-pkg", Record("index", "demo-pkg")))  # B's listing held
    wanted = url_a + (".metadata" if kind == "metadata" else "")
    assert run(r.file_bytes(wanted)) == (meta_good if kind == "metadata" else GOOD)
    (record,) = [rec for rec in r.report if rec.kind == "file" and rec.target == wanted.rsplit("/", 1)[-1]]
    first, *_, last = record.attempts
    assert first.url == wanted and first.reason.startswith("sha256 mismatch")
    assert last.url.startswith(url_b) and last.outcome == "ok" and last.reason == ""


def test_the_listing_pages_own_hash_wins_over_another_mirrors():
    url_a, url_b = "https://a.example/f/" + WHL, "https://b.example/g/" + WHL
    t = Scripted({A.project_url("demo-pkg"): listing(A, WHL, url_a, sha(GOOD)),
                  B.project_url("demo-pkg"): listing(B, WHL, url_b, sha(BAD)),
                  url_a: AttemptFailed("network or CORS error (x)"), url_b: BAD})
    r = router(t)
    run(r.project_page("demo-pkg"))
    with pytest.raises(micropip_mirror.AllMirrorsFailed, match="sha256 mismatch"):
        run(r.file_bytes(url_a))  # B's bytes match B's listing, not the page micropip read


# -- an install outlives enable() again and disable() ------------------------------------


C = Mirror("https://c.example/simple", name="c")


@pytest.fixture
def slow_first_mirror():
    """A answers late and lists a wheel URL that is dead; B has the wheel."""
    url_a, url_b = "https://a.example/f/" + WHL, "https://b.example/g/" + WHL
    t = Scripted({A.project_url("demo-pkg"): (0.3, listing(A, WHL, url_a, sha(GOOD))),
                  B.project_url("demo-pkg"): listing(B, WHL, url_b, sha(GOOD)),
                  url_a: AttemptFailed("network or CORS error (x)"), url_b: GOOD})
    micropip_mirror.enable([A, B], transport=t, hedge_after=None, timeout=5)
    yield t
    micropip_mirror.disable()


def patched_fetch_bytes():
    """fetch_bytes where micropip looks it up at call time (by name, or its layer)."""
    import micropip

    owner, attr = adapter_for(micropip).bytes_sites()[0]
    return getattr(owner, attr)


def test_an_install_keeps_the_router_it_started_with_when_enable_is_called_again(slow_first_mirror):
    t = slow_first_mirror

    async def install():
        txn = new_transaction()
        fetch_bytes = patched_fetch_bytes()  # as micropip finds it
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, functools.partial(micropip_mirror.enable, [C], transport=t))
        await txn.gather_requirements(["demo-pkg"])  # A's answer is pending at 0.1 s
        (whl,) = txn.wheels
        return whl, await fetch_bytes(whl.url, {})

    whl, data = run(install())
    assert whl.url == "https://a.example/f/" + WHL  # A's answer, from the install's mirrors
    assert data == GOOD  # A's dead URL fell back to B: still the install's mirror list
    assert not any(url.startswith("https://c.example") for url in t.asked)


def test_disable_during_an_install_leaves_its_later_requests_to_micropip():
    """The request in flight finishes on the router; what the install asks
    after disable() is micropip's own (here: a refused loopback URL, micropip's
    own error, no hang)."""
    dead = "http://127.0.0.1:9/f/" + WHL
    t = Scripted({A.project_url("demo-pkg"): (0.3, listing(A, WHL, dead, sha(GOOD)))})
    micropip_mirror.enable([A], transport=t, hedge_after=None, timeout=5)

    async def install():
        txn = new_transaction()
        asyncio.get_running_loop().call_later(0.1, micropip_mirror.disable)
        await txn.gather_requirements(["demo-pkg"])
        (whl,) = txn.wheels
        return await patched_fetch_bytes()(whl.url, {})  # micropip's own now

    try:
        with pytest.raises(Exception) as err:
            run(install())
    finally:
        micropip_mirror.disable()
    assert not isinstance(err.value, micropip_mirror.MirrorError), err.value
    (record,) = [r for r in micropip_mirror.report(file=None) if r.target == "demo-pkg"][-1:]
    assert record.served_by == "a"  # the index request in flight was answered
    assert t.asked == [A.project_url("demo-pkg")]


# -- Pyodide's own packages: concurrent loadPackage calls -------------------------------


def test_concurrent_calls_share_one_download_of_a_lockfile_file():
    from micropip_mirror.lockfile import DistFetcher

    base = "https://dist.example/full/"
    t = Scripted({base + WHL: (0.05, GOOD)})
    fetcher = DistFetcher([], router(t))

    async def two_calls():
        return await asyncio.gather(fetcher.download(WHL, sha(GOOD), [base]),
                                    fetcher.download(WHL, sha(GOOD), [base]))

    assert run(two_calls()) == [GOOD, GOOD]
    assert t.asked == [base + WHL]
    assert [r.target for r in fetcher.router.report] == [WHL]
    assert fetcher._pending == {}
