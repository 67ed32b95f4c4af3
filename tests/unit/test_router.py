"""Fallback logic, with a scripted transport: order, reasons, hedging, memory, hashes."""

import asyncio
import json

import pytest

from micropip_mirror.errors import AllMirrorsFailed, AttemptFailed
from micropip_mirror.mirrors import Mirror
from micropip_mirror.policy import Policy
from micropip_mirror.router import Router

from .fakes import Scripted, page, sha, wheel

A = Mirror("https://a.example/simple", name="a")
B = Mirror("https://b.example/simple", name="b")
C = Mirror.cloudflare("https://cf.example")
GOOD = wheel()
BAD = wheel(genuine=False)


def index(mirror, files):
    body = json.dumps({"name": "demo-pkg", "files": [
        {"filename": fn, "url": url, "hashes": {"sha256": h} if h else {}} for fn, url, h in files
    ]}).encode()
    return page(mirror.project_url("demo-pkg"), body)


def router(transport, mirrors=(A, B), **policy):
    return Router(list(mirrors), Policy(**{"hedge_after": None, "timeout": 0.5, **policy}), transport)


def run(coro):
    return asyncio.run(coro)


WHL = "demo_pkg-2.0.0-py3-none-any.whl"


def test_first_mirror_failing_falls_through_to_the_second_with_reasons():
    t = Scripted({A.project_url("demo-pkg"): page("x", b"oops", "text/html", 503),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/f/" + WHL, sha(GOOD))])})
    r = router(t)
    result = run(r.project_page("Demo_Pkg"))
    assert result.files[0].url == "https://b.example/f/" + WHL
    (record,) = r.report
    assert record.served_by == "b"
    assert [(a.mirror, a.outcome, a.reason) for a in record.attempts] == [
        ("a", "failed", "HTTP 503"), ("b", "ok", "")]


@pytest.mark.parametrize("answer,reason", [
    (AttemptFailed("network or CORS error (Failed to fetch)"), "network or CORS error"),
    ((5, b""), "timeout after 0.5 s"),
    (page("x", b"<html>login</html>", "text/html"), "lists no distribution files"),
    (page("x", b'{"name": "demo-pkg", "files": [', "application/json"), "unparsable JSON"),
    (page("x", b"\x89PNG", "image/png"), "content type 'image/png'"),
    (page("x", b"", "text/html", 404), "HTTP 404"),
])
def test_every_failure_kind_is_named_when_all_fail(answer, reason):
    t = Scripted({A.project_url("demo-pkg"): answer, B.project_url("demo-pkg"): answer})
    with pytest.raises(AllMirrorsFailed) as err:
        run(router(t).project_page("demo-pkg"))
    text = str(err.value)
    assert "all mirrors failed for project 'demo-pkg'" in text
    assert f"a: {A.project_url('demo-pkg')} -> " in text and f"b: {B.project_url('demo-pkg')}" in text
    assert text.count(reason) == 2


def test_hedging_asks_the_next_mirror_when_the_first_is_silent_and_aborts_it():
    t = Scripted({A.project_url("demo-pkg"): (3, index(A, [(WHL, "https://a.example/" + WHL, None)])),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t, hedge_after=0.05, timeout=5)
    result = run(r.project_page("demo-pkg"))
    assert result.files[0].url.startswith("https://b.example/")
    assert t.cancelled == [A.project_url("demo-pkg")]
    assert [a.outcome for a in r.report[0].attempts] == ["cancelled", "ok"]


def test_a_mirror_that_failed_goes_to_the_back_and_answers_are_cached():
    t = Scripted({A.project_url("demo-pkg"): AttemptFailed("network or CORS error (x)"),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t)
    run(r.project_page("demo-pkg"))
    run(r.project_page("demo-pkg"))
    assert t.asked == [A.project_url("demo-pkg"), B.project_url("demo-pkg")]
    assert [a.outcome for a in r.report[1].attempts] == ["cached"]


class Req:
    """Just what the router reads of a packaging Requirement."""

    def __init__(self, spec):
        from packaging.specifiers import SpecifierSet
        self.specifier = SpecifierSet(spec)

    def __str__(self):
        return f"demo-pkg{self.specifier}"


def test_a_stale_mirror_does_not_block_a_mirror_that_has_the_version():
    old = "demo_pkg-1.0.0-py3-none-any.whl"
    t = Scripted({A.project_url("demo-pkg"): index(A, [(old, "https://a.example/" + old, None)]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t)
    result = run(r.project_page("demo-pkg", Req(">=2")))
    assert [f.filename for f in result.files] == [WHL]
    assert [a.outcome for a in r.report[0].attempts] == ["stale", "ok"]
    # Nobody has it: the first valid answer goes to micropip, which says so itself.
    result = run(r.project_page("demo-pkg", Req(">=3")))
    assert [f.filename for f in result.files] == [old]


def test_a_mirror_with_no_wheel_installable_here_counts_as_lacking_the_version(monkeypatch):
    """As in Pyodide: A has 2.0.0 only as an sdist and a manylinux wheel, which micropip
    can never install there (normalize leaves them out); B's pure wheel is served."""
    import sys
    monkeypatch.setattr(sys, "platform", "emscripten")
    linux = "demo_pkg-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    t = Scripted({A.project_url("demo-pkg"): index(A, [(linux, "https://a.example/" + linux, None),
                                                       ("demo_pkg-2.0.0.tar.gz", "https://a.example/s.tar.gz", None)]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t)
    result = run(r.project_page("demo-pkg", Req("==2.0.0")))
    assert [f.filename for f in result.files] == [WHL]
    assert [a.outcome for a in r.report[0].attempts] == ["stale", "ok"]


def test_a_legacy_json_mirror_with_no_wheel_installable_here_counts_as_lacking_the_version(monkeypatch):
    """The same through the legacy JSON API, whose platform wheels normalize keeps."""
    import sys
    monkeypatch.setattr(sys, "platform", "emscripten")
    linux = "demo_pkg-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    legacy = json.dumps({"info": {"name": "demo-pkg"}, "releases": {"2.0.0": [
        {"filename": linux, "url": "https://a.example/" + linux, "digests": {}}]}}).encode()
    t = Scripted({A.project_url("demo-pkg"): page(A.project_url("demo-pkg"), legacy),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t)
    result = run(r.project_page("demo-pkg", Req("==2.0.0")))
    assert [f.filename for f in result.files] == [WHL]
    assert [a.outcome for a in r.report[0].attempts] == ["stale", "ok"]


def test_a_mirror_with_the_version_for_other_platforms_only_is_not_benched_as_lagging(monkeypatch):
    """A lists 2.0.0, only for Linux; B (an index of Pyodide wheels) has one for this
    platform. B serves it, but A is not behind: the next project still asks A first."""
    import sys
    monkeypatch.setattr(sys, "platform", "emscripten")
    linux = "demo_pkg-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    wasm = "demo_pkg-2.0.0-cp312-cp312-pyodide_2024_0_wasm32.whl"
    t = Scripted({A.project_url("demo-pkg"): index(A, [(linux, "https://a.example/" + linux, None)]),
                  B.project_url("demo-pkg"): index(B, [(wasm, "https://b.example/" + wasm, None)])})
    r = router(t)
    result = run(r.project_page("demo-pkg", Req("==2.0.0")))
    assert [f.filename for f in result.files] == [wasm]
    assert [a.outcome for a in r.report[0].attempts] == ["stale", "ok"]
    assert r.health.order([A, B]) == [A, B]
    # One that lists no 2.0.0 at all is behind, and is asked last for a while.
    old = "demo_pkg-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    t.routes[A.project_url("demo-pkg")] = index(A, [(old, "https://a.example/" + old, None)])
    r = router(t)
    run(r.project_page("demo-pkg", Req("==2.0.0")))
    assert r.health.order([A, B]) == [B, A]


def test_a_project_with_wheels_for_other_platforms_only_everywhere_is_left_to_micropip(monkeypatch):
    """No mirror has a wheel installable here: the first mirror's page goes to micropip
    (with nothing it could install, as its own first check would leave it), which then
    raises its usual error; no mirror is benched, since none is behind."""
    import sys
    monkeypatch.setattr(sys, "platform", "emscripten")
    linux = "demo_pkg-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    mac = "demo_pkg-2.0.0-cp312-cp312-macosx_11_0_arm64.whl"
    t = Scripted({A.project_url("demo-pkg"): index(A, [(linux, "https://a.example/" + linux, None),
                                                       ("demo_pkg-2.0.0.tar.gz", "https://a.example/s.tar.gz", None)]),
                  B.project_url("demo-pkg"): index(B, [(mac, "https://b.example/" + mac, None)])})
    r = router(t)
    result = run(r.project_page("demo-pkg", Req(">=2")))
    assert result.files == [] and result.skipped == [linux, "demo_pkg-2.0.0.tar.gz"]
    assert [a.outcome for a in r.report[0].attempts] == ["stale", "stale"]
    assert r.report[0].served_by == "a"
    assert r.health.order([A, B]) == [A, B]


def test_files_fall_back_and_a_tampered_wheel_is_never_returned():
    files_a = "https://a.example/packages/" + WHL
    files_b = "https://b.example/packages/" + WHL
    t = Scripted({A.project_url("demo-pkg"): index(A, [(WHL, files_a, sha(GOOD))]),
                  B.project_url("demo-pkg"): index(B, [(WHL, files_b, sha(GOOD))]),
                  files_a: BAD, files_b: GOOD})
    r = router(t)
    run(r.project_page("demo-pkg"))
    assert run(r.file_bytes(files_a)) == GOOD
    record = r.report[-1]
    assert record.kind == "file" and record.served_by == "b"
    assert record.attempts[0].reason.startswith("sha256 mismatch")


def test_tampered_everywhere_fails_with_each_mirror_named():
    files_a = "https://a.example/packages/" + WHL
    t = Scripted({A.project_url("demo-pkg"): index(A, [(WHL, files_a, sha(GOOD))]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, sha(GOOD))]),
                  files_a: BAD, "https://b.example/" + WHL: BAD})
    r = router(t)
    run(r.project_page("demo-pkg"))
    with pytest.raises(AllMirrorsFailed, match="(?s)a: .*sha256 mismatch.*b: .*sha256 mismatch"):
        run(r.file_bytes(files_a))


def test_pypi_file_urls_map_to_each_mirrors_files_host():
    pypi_url = "https://files.pythonhosted.org/packages/aa/bb/" + WHL
    t = Scripted({C.project_url("demo-pkg"): index(C, [(WHL, pypi_url, sha(GOOD))]),
                  "https://cf.example/files/packages/aa/bb/" + WHL: AttemptFailed("network or CORS error"),
                  "https://tuna.example/packages/aa/bb/" + WHL: GOOD})
    tuna = Mirror("https://tuna.example/simple", files_url="https://tuna.example", name="tuna")
    r = router(t, mirrors=(C, tuna))
    result = run(r.project_page("demo-pkg"))
    assert result.files[0].url == "https://cf.example/files/packages/aa/bb/" + WHL
    assert run(r.file_bytes(result.files[0].url)) == GOOD
    # tuna's index was never needed: its file URL follows from PyPI's path.
    assert tuna.project_url("demo-pkg") not in t.asked


def test_missing_hash_is_taken_from_another_mirror_or_refused_when_required():
    url_a = "https://a.example/r/" + WHL
    t = Scripted({A.project_url("demo-pkg"): index(A, [(WHL, url_a, None)]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)]),
                  url_a: GOOD, "https://b.example/" + WHL: GOOD})
    r = router(t)
    run(r.project_page("demo-pkg"))
    assert run(r.file_bytes(url_a)) == GOOD
    assert r.report[-1].attempts[-1].reason == "unverified: no hash known"
    strict = router(t, require_hashes=True)
    run(strict.project_page("demo-pkg"))
    with pytest.raises(AllMirrorsFailed, match="require_hashes"):
        run(strict.file_bytes(url_a))


def test_urls_we_did_not_hand_out_are_left_alone():
    r = router(Scripted())
    assert run(r.file_bytes("https://elsewhere.example/x.whl")) is None
    assert r.match("https://elsewhere.example/simple/demo/") is None
    assert r.match("https://pypi.org/simple/Demo.Pkg/") == "demo-pkg"
    assert r.match("https://a.example/simple/demo-pkg/") == "demo-pkg"


def test_an_unproven_first_mirror_is_hedged_sooner_than_a_proven_one():
    """Until a mirror has answered once, a silent one costs first_hedge_after;
    after that it gets the full hedge_after before anyone else is asked."""
    t = Scripted({A.project_url("demo-pkg"): (0.3, index(A, [(WHL, "https://a.example/" + WHL, None)])),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t, hedge_after=5, first_hedge_after=0.05, timeout=5)
    run(r.project_page("demo-pkg"))  # A silent for 0.3 s, unproven: B asked at 0.05 s
    assert [a.mirror for a in r.report[-1].attempts] == ["a", "b"]
    assert r.report[-1].served_by == "b"

    fast = index(A, [(WHL, "https://a.example/" + WHL, None)])
    t.routes[A.project_url("demo-pkg")] = fast
    r2 = router(t, hedge_after=5, first_hedge_after=0.05, timeout=5)
    run(r2.project_page("demo-pkg"))  # A answers at once: now proven
    r2.cache.clear()
    t.routes[A.project_url("demo-pkg")] = (0.3, fast)
    run(r2.project_page("demo-pkg"))  # A silent for 0.3 s, proven: nobody else is asked
    assert [a.mirror for a in r2.report[-1].attempts] == ["a"]
    assert r2.report[-1].served_by == "a"


def test_a_mirror_that_lagged_is_asked_last_afterwards():
    old = "demo_pkg-1.0.0-py3-none-any.whl"
    t = Scripted({A.project_url("demo-pkg"): index(A, [(old, "https://a.example/" + old, None)]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)])})
    r = router(t)
    run(r.project_page("demo-pkg", Req(">=2")))
    assert r.health.order([A, B]) == [B, A]
