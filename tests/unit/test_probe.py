"""enable("auto") and the lockfile fallback, as logic in CPython (micropip 0.6, 0.9
or 0.11 by venv), with a scripted transport: which candidates are usable, in
which order, what is remembered and for how long; which distribution bases are
tried for Pyodide's own packages and when a file is refused. The browser half
(localStorage, Pyodide's loadPackage) is tests/browser/test_lockfile_and_auto.py."""

import asyncio
import json

import micropip
import pytest

import micropip_mirror
from micropip_mirror import AllMirrorsFailed, ConfigError, Mirror, patch, probe
from micropip_mirror.adapters import adapter_for
from micropip_mirror.lockfile import (DistFetcher, candidate_bases, files_to_fetch,
                                      parse_bases)
from micropip_mirror.policy import Policy
from micropip_mirror.report import Record, Report
from micropip_mirror.router import Router
from micropip_mirror.errors import AttemptFailed

from .fakes import Scripted, page, sha, wheel

FAST = Mirror("https://fast.example/simple", name="fast")
SLOW = Mirror("https://slow.example/simple", name="slow")
NOCORS = Mirror("https://nocors.example/simple", name="nocors")
DEAD = Mirror("https://dead.example/simple", name="dead")
MISSING = Mirror("https://missing.example/simple", name="missing")
CAPTIVE = Mirror("https://captive.example/simple", name="captive")
ALL = [NOCORS, DEAD, SLOW, MISSING, CAPTIVE, FAST]
SETTINGS = probe.ProbeSettings(project="demo-pkg", timeout=0.5, remember=60)


def json_page(mirror):
    url = mirror.project_url("demo-pkg")
    return page(url, json.dumps({"name": "demo-pkg", "files": []}).encode())


def html_page(mirror):
    link = b'<a href="../../files/demo_pkg-1.0.0-py3-none-any.whl">demo_pkg-1.0.0-py3-none-any.whl</a>'
    return page(mirror.project_url("demo-pkg"), b"<html><body>" + link + b"</body></html>", "text/html")


@pytest.fixture
def fleet():
    probe.forget()
    yield Scripted({
        FAST.project_url("demo-pkg"): json_page(FAST),
        SLOW.project_url("demo-pkg"): (0.15, html_page(SLOW)),
        NOCORS.project_url("demo-pkg"): AttemptFailed("network or CORS error (Failed to fetch)"),
        DEAD.project_url("demo-pkg"): (5.0, json_page(DEAD)),  # never answers in time
        CAPTIVE.project_url("demo-pkg"): page(CAPTIVE.project_url("demo-pkg"),
                                              b"<html>log in to the wifi</html>", "text/plain"),
        # MISSING: 404
    })
    micropip_mirror.disable()
    probe.forget()


def test_probe_keeps_the_usable_ones_fastest_first(fleet):
    record = Record("probe", "auto")
    usable = asyncio.run(probe.probe_all(ALL, fleet, SETTINGS, record))
    assert [(p.mirror.name, p.layout) for p in usable] == [("fast", "pep691"), ("slow", "pep503")]
    reasons = {a.mirror: (a.outcome, a.reason) for a in record.attempts}
    assert reasons["nocors"] == ("failed", "network or CORS error (Failed to fetch)")
    assert reasons["dead"] == ("failed", "timeout after 0.5 s")
    assert reasons["missing"] == ("failed", "HTTP 404")
    assert reasons["captive"][0] == "failed" and "unusable answer" in reasons["captive"][1]
    assert record.served_by == "fast"


def test_probes_run_at_once(fleet):
    """Every candidate is asked before any answer comes back: the probe costs
    the slowest answer (at most one timeout), not the sum."""
    in_flight, most = 0, 0
    scripted_fetch = fleet.fetch

    async def counting(url, **kw):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await scripted_fetch(url, **kw)
        finally:
            in_flight -= 1

    fleet.fetch = counting
    asyncio.run(probe.probe_all(ALL, fleet, SETTINGS, Record("probe", "auto")))
    assert most == len(ALL)


def test_choice_is_remembered_until_it_expires(fleet):
    usable = [probe.Probe(FAST, True, 3.0, "pep691"), probe.Probe(SLOW, True, 9.0, "pep503")]
    probe.remember(ALL, usable, 60, now=1000.0)
    assert probe.recall(ALL, now=1059.0) == [FAST, SLOW]
    assert probe.recall(ALL, now=1061.0) is None  # expired
    assert probe.recall(list(reversed(ALL)), now=1001.0) == [FAST, SLOW]  # same set
    assert probe.recall(ALL[:-1], now=1001.0) is None  # another catalogue
    probe.forget()
    assert probe.recall(ALL, now=1001.0) is None


def test_enable_auto_probes_once_then_reuses_the_choice(fleet):
    chosen = micropip_mirror.enable("auto", catalogue=ALL, transport=fleet, probe_settings=SETTINGS)
    assert chosen == ALL  # not probed yet (no event loop running here)
    assert asyncio.run(patch.ready()) == [FAST, SLOW]
    probed = len(fleet.asked)
    assert probed == len(ALL)
    record = [r for r in micropip_mirror.report(file=None) if r.kind == "probe"][-1]
    assert record.served_by == "fast"
    # The next enable("auto") with the same catalogue: no probe, same order.
    assert micropip_mirror.enable("auto", catalogue=ALL, transport=fleet,
                                  probe_settings=SETTINGS) == [FAST, SLOW]
    assert asyncio.run(patch.ready()) == [FAST, SLOW]
    assert len(fleet.asked) == probed


def test_requests_wait_for_the_probe_and_use_its_order(fleet):
    micropip_mirror.enable("auto", catalogue=ALL, transport=fleet, probe_settings=SETTINGS,
                           hedge_after=None)
    owner, attr = adapter_for(micropip).string_sites()[0]  # where micropip looks it up
    fetch = getattr(owner, attr)
    body, headers = asyncio.run(fetch("https://pypi.org/simple/demo-pkg/", {}))
    assert json.loads(body)["name"] == "demo-pkg"
    index = [r for r in micropip_mirror.report(file=None) if r.kind == "index"][-1]
    assert [a.mirror for a in index.attempts] == ["fast"]


def test_auto_with_an_empty_catalogue_is_a_config_error(fleet):
    with pytest.raises(ConfigError):
        micropip_mirror.enable("auto", catalogue=[], transport=fleet)


# -- Pyodide's own packages: bases and the fallback download (lockfile.py) ------------

CDN = "https://cdn.jsdelivr.net/pyodide/v0.28.3/full/"
SIX = "six-1.17.0-py2.py3-none-any.whl"
SIX_BYTES = wheel(name="six", version="1.17.0")


def test_jsdelivr_alternates_follow_the_cdn_with_the_same_path():
    bases = candidate_bases(CDN, parse_bases("https://my.example/pyodide/full"))
    assert bases == [CDN,
                     "https://fastly.jsdelivr.net/pyodide/v0.28.3/full/",
                     "https://gcore.jsdelivr.net/pyodide/v0.28.3/full/",
                     "https://testingcf.jsdelivr.net/pyodide/v0.28.3/full/",
                     "https://my.example/pyodide/full/"]
    assert candidate_bases("https://self.example/py/", []) == ["https://self.example/py/"]
    with pytest.raises(ConfigError):
        parse_bases(["ftp://nope/"])


def test_files_to_fetch_follows_lockfile_dependencies_not_yet_loaded():
    packages = {"attrs": {"depends": ["six"]}, "six": {"depends": []},
                "numpy": {"depends": ["openblas"]}, "openblas": {"depends": []}}
    assert files_to_fetch(["attrs"], packages, {}) == ["attrs", "six"]
    assert files_to_fetch(["attrs"], packages, {"six": "default channel"}) == ["attrs"]
    assert files_to_fetch(["numpy", "attrs"], packages, {}) == ["numpy", "attrs", "openblas", "six"]


def _fetcher(routes, **policy):
    router = Router([FAST], Policy(**policy), Scripted(routes), Report())
    return DistFetcher([], router), router


def test_dead_base_then_tampered_base_then_the_genuine_file():
    bases = ["https://dead.example/", "https://tampered.example/", "https://good.example/"]
    fetcher, router = _fetcher({
        "https://dead.example/" + SIX: AttemptFailed("network or CORS error (Failed to fetch)"),
        "https://tampered.example/" + SIX: wheel(name="six", version="1.17.0", genuine=False),
        "https://good.example/" + SIX: SIX_BYTES,
    }, hedge_after=None)
    data = asyncio.run(fetcher.download(SIX, sha(SIX_BYTES), bases))
    assert data == SIX_BYTES
    (record,) = router.report
    assert record.kind == "lockfile" and record.served_by == "good.example"
    assert [a.outcome for a in record.attempts] == ["failed", "failed", "ok"]
    assert "sha256 mismatch" in record.attempts[1].reason
    # Both bad bases are benched: the next file goes to the good one first.
    assert fetcher.router.health.order(bases)[0] == "https://good.example/"


def test_silent_base_is_hedged_past():
    bases = ["https://silent.example/", "https://good.example/"]
    fetcher, router = _fetcher({
        "https://silent.example/" + SIX: (5.0, SIX_BYTES),
        "https://good.example/" + SIX: SIX_BYTES,
    }, hedge_after=0.1, download_timeout=10)
    assert asyncio.run(fetcher.download(SIX, sha(SIX_BYTES), bases)) == SIX_BYTES
    assert [a.outcome for a in router.report[0].attempts] == ["cancelled", "ok"]


def test_every_base_failing_names_each():
    fetcher, _ = _fetcher({}, hedge_after=None)
    with pytest.raises(AllMirrorsFailed) as err:
        asyncio.run(fetcher.download(SIX, sha(SIX_BYTES), ["https://a.example/", "https://b.example/"]))
    assert f"https://a.example/{SIX} -> HTTP 404" in str(err.value)
    assert f"https://b.example/{SIX} -> HTTP 404" in str(err.value)


def test_load_package_is_replaced_and_restored_exactly():
    adapter = adapter_for(micropip)
    sites = adapter.load_package_sites()

    def current():
        return [o.__dict__.get(a) if isinstance(o, type) else getattr(o, a) for o, a in sites]

    before = current()
    micropip_mirror.enable([FAST])
    during = current()
    assert all(d is not b for d, b in zip(during, before))
    micropip_mirror.disable()
    assert all(a is b for a, b in zip(current(), before))


def test_outside_a_browser_load_package_is_micropips_own():
    """Node.js and CPython load lockfile packages without fetch: nothing to route."""
    calls = []

    async def native(names):
        calls.append(names)
        return "native"

    wrapped = __import__("micropip_mirror.lockfile", fromlist=["x"]).wrap_load_package(
        native, patch._dist_now)
    micropip_mirror.enable([FAST])
    try:
        assert asyncio.run(wrapped(["six"])) == "native" and calls == [["six"]]
    finally:
        micropip_mirror.disable()



def test_auto_from_the_environment(fleet, monkeypatch):
    monkeypatch.setenv("MICROPIP_MIRROR_URLS", "auto")
    assert micropip_mirror.enable(catalogue=ALL, transport=fleet, probe_settings=SETTINGS) == ALL
    assert asyncio.run(patch.ready()) == [FAST, SLOW]
