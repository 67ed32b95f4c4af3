"""Faults in micropip-mirror's own machinery, not the network, in headless Chromium
with real Pyodide: it may only ever add ways to succeed.

- The lockfile path's view of Pyodide broken on purpose (no ``_api``; lockfile
  entries of an unexpected shape): Pyodide's native loadPackage does the work,
  and report() names the fallback.
- Two concurrent installs sharing a lockfile dependency, Pyodide's base dead:
  both succeed through the fallback base, each file downloaded once, the
  page's fetch put back afterwards.
- An install cancelled from outside while two mirrors are silent: no mirror is
  sent to the back of the list for it.
- enable() called again while an install waits for its index page: the install
  finishes on the mirrors it started with (its wheel falls back to the second).
- A mirror answering JSON nested 100,000 deep: that attempt fails with a reason,
  the next mirror serves.
- A first mirror that lists a project only as a Linux wheel: the next mirror serves it,
  and the first, which is not behind, stays in front for the next project.

Chromium only (Node.js loads lockfile packages from disk, not through fetch).
"""

from __future__ import annotations

import json

import pytest

from tests.support.browser import (dead_url, load_wheel_into_page, point_pyodide_at,
                                   static_server)
from tests.support.scripted_index import PEP691, pep691_page, scripted_index, serve_project

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def page(selenium_module_scope, micropip_mirror_wheel):
    """The module's fresh page, shared (a Pyodide start costs seconds): each test
    enables its own configuration and installs packages no other test installs;
    the one that kills Pyodide's base runs last."""
    selenium_module_scope.run_async("import micropip")
    load_wheel_into_page(selenium_module_scope, micropip_mirror_wheel)
    return selenium_module_scope


@pytest.fixture(scope="module")
def good_base(pyodide_dist):
    with static_server(pyodide_dist, cors=True) as origin:
        yield origin + "/"


def run_json(selenium, code: str):
    return json.loads(selenium.run_async(code + "\njson.dumps(result)"))


# -- Pyodide's own packages -------------------------------------------------------------

# case -> (pyodide_js as micropip_mirror.lockfile sees it, lockfile package to install).
# micropip read what it needs from pyodide_js at import; Pyodide's loadPackage
# never looks at this module.
BREAK_LOCKFILE_VIEW = {
    "no _api": ("types.SimpleNamespace(loadedPackages=real.loadedPackages)", "iniconfig"),
    "unreadable entries": ("""types.SimpleNamespace(
    loadedPackages=real.loadedPackages,
    _api=types.SimpleNamespace(
        packageManager=getattr(real._api, "packageManager", None), config=real._api.config,
        lockfile_packages=types.SimpleNamespace(
            to_py=lambda: {n: ["not", "an", "entry"] for n in real._api.lockfile_packages.to_py()})))""",
                           "tblib"),
}


@pytest.mark.parametrize("broken", list(BREAK_LOCKFILE_VIEW))
def test_broken_lockfile_internals_fall_back_to_native_load_package(page, good_base, broken):
    view, package = BREAK_LOCKFILE_VIEW[broken]
    result = run_json(page, f"""
import importlib, json, sys, types, micropip, micropip_mirror, pyodide_js
real = pyodide_js
micropip_mirror.enable(["https://pypi.org/simple"], dist_bases=[{good_base!r}], hedge_after=None)
sys.modules["pyodide_js"] = {view}
try:
    await micropip.install({package!r})
finally:
    sys.modules["pyodide_js"] = real
module = importlib.import_module({package!r})  # not `import`: the harness would preload it
records = [r for r in micropip_mirror.report(file=None).as_dicts()
           if r["kind"] == "lockfile" and r["target"] == {package!r}]
result = dict(module=module.__name__, loaded={package!r} in real.loadedPackages.to_py(),
              records=records)
""")
    assert result["module"] == package and result["loaded"]
    (record,) = result["records"]
    assert record["served_by"] == "pyodide (native)"
    (attempt,) = record["attempts"]
    assert attempt["outcome"] == "fallback"
    assert "internal error (" in attempt["reason"] and "native loadPackage used" in attempt["reason"]


# -- the router -----------------------------------------------------------------------


def test_install_cancelled_from_outside_benches_no_mirror(page):
    with scripted_index() as first, scripted_index() as second:
        for index in (first, second):
            index.held.add("/simple/mm-never/")  # silent until the test ends
        result = run_json(page, f"""
import asyncio, json, micropip, micropip_mirror
from micropip_mirror import patch
micropip_mirror.enable([{first.origin + '/simple'!r}, {second.origin + '/simple'!r}],
                       hedge_after=0.1, timeout=30)
task = asyncio.ensure_future(micropip.install("mm-never"))
report = micropip_mirror.report(file=None)
while not [r for r in report if r.target == "mm-never" and len(r.attempts) == 2]:
    await asyncio.sleep(0.05)
task.cancel()
try:
    await task
    outcome = "finished"
except asyncio.CancelledError:
    outcome = "cancelled"
router = patch._session.routing.router
(record,) = [r for r in report if r.target == "mm-never"]
result = dict(outcome=outcome, benched=[router.health.is_benched(m) for m in router.mirrors],
              attempts=[(a.outcome, a.reason) for a in record.attempts])
""")
    assert result["outcome"] == "cancelled"
    assert result["benched"] == [False, False]
    assert result["attempts"] == [["cancelled", "cancelled by the caller"]] * 2


def test_enable_again_during_an_install_keeps_its_mirrors(page, tmp_path):
    """The first mirror's index answer is held until the page has called enable()
    with another mirror list; its wheel URL is dead, so the wheel must fall back
    to the second mirror of the list the install started with."""
    with scripted_index() as first, scripted_index() as second, scripted_index() as other:
        serve_project(first, "mm-pin", first.origin, tmp_path, wheel_too=False)
        serve_project(second, "mm-pin", second.origin, tmp_path)
        first.held.add("/simple/mm-pin/")
        result = run_json(page, f"""
import asyncio, json, micropip, micropip_mirror
from pyodide.http import pyfetch
micropip_mirror.enable([{first.origin + '/simple'!r}, {second.origin + '/simple'!r}],
                       hedge_after=None, timeout=30)
task = asyncio.ensure_future(micropip.install("mm-pin"))
report = micropip_mirror.report(file=None)
while not [r for r in report if r.target == "mm-pin"]:
    await asyncio.sleep(0.02)
micropip_mirror.enable([{other.origin + '/simple'!r}], hedge_after=None)
await pyfetch({first.origin + '/__release'!r})
await task
import mm_pin
files = [r.as_dict() for r in report if r.kind == "file"]
result = dict(ok=mm_pin.OK, files=files)
""")
        assert other.log == []  # the new configuration is for installs that start later
    assert result["ok"] is True
    wheel = [r for r in result["files"] if r["target"].endswith(".whl")]
    (record,) = wheel
    attempts = record["attempts"]  # the dead wheel URL, then the second mirror
    assert attempts[0]["outcome"] == "failed" and attempts[0]["url"].startswith(first.origin)
    assert attempts[-1]["outcome"] == "ok" and attempts[-1]["url"].startswith(second.origin)
    assert record["served_by"] == attempts[-1]["mirror"]


def test_deeply_nested_json_answer_fails_only_that_mirror(page, tmp_path):
    depth = 100_000
    with scripted_index() as deep, scripted_index() as good:
        deep.routes["/simple/mm-deep/"] = (
            PEP691, b'{"name": "mm-deep", "files": ' + b"[" * depth + b"]" * depth + b"}")
        serve_project(good, "mm-deep", good.origin, tmp_path)
        result = run_json(page, f"""
import json, micropip, micropip_mirror
micropip_mirror.enable([{deep.origin + '/simple'!r}, {good.origin + '/simple'!r}], hedge_after=None)
await micropip.install("mm-deep")
import mm_deep
(record,) = [r.as_dict() for r in micropip_mirror.report(file=None) if r.target == "mm-deep"]
result = dict(ok=mm_deep.OK, record=record)
""")
    assert result["ok"] is True
    failed, served = result["record"]["attempts"]
    assert failed["outcome"] == "failed" and failed["reason"], failed
    assert served["outcome"] == "ok"
    print("nested JSON:", failed["reason"])


def test_a_mirror_with_wheels_for_other_platforms_only_hands_over_and_stays_in_front(page, tmp_path):
    """The first mirror lists mm-plat only as a Linux wheel: the second serves it, and
    the first, not behind, still serves the next project."""
    linux = "mm_plat-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    with scripted_index() as first, scripted_index() as second:
        first.routes["/simple/mm-plat/"] = (PEP691, pep691_page("mm-plat", [(linux, f"{first.origin}/files/{linux}", None)]))
        serve_project(second, "mm-plat", second.origin, tmp_path)
        for index in (first, second):
            serve_project(index, "mm-plat-next", index.origin, tmp_path / index.origin[-5:])
        result = run_json(page, f"""
import json, micropip, micropip_mirror
micropip_mirror.enable([{first.origin + '/simple'!r}, {second.origin + '/simple'!r}],
                       hedge_after=None, first_hedge_after=None)
await micropip.install("mm-plat")
await micropip.install("mm-plat-next")
import mm_plat, mm_plat_next
records = {{r.target: r.as_dict() for r in micropip_mirror.report(file=None) if r.kind == "index"}}
result = dict(ok=mm_plat.OK and mm_plat_next.OK, plat=records["mm-plat"], next=records["mm-plat-next"])
""")
    assert result["ok"] is True
    stale, served = result["plat"]["attempts"]
    assert stale["outcome"] == "stale" and served["outcome"] == "ok", result["plat"]
    assert result["plat"]["served_by"] == served["mirror"] != stale["mirror"]
    assert result["next"]["served_by"] == stale["mirror"], result["next"]


# -- last: it points Pyodide's base at a dead port for the rest of the page --------


def test_concurrent_installs_sharing_lockfile_dependencies(page, good_base):
    """attrs depends on six in Pyodide's lockfile; six is also asked for alone."""
    point_pyodide_at(page, dead_url())
    result = run_json(page, f"""
import asyncio, importlib, json, js, micropip, micropip_mirror
from micropip_mirror import lockfile
original_fetch = js.globalThis.fetch
micropip_mirror.enable(["https://pypi.org/simple"], dist_bases=[{good_base!r}], hedge_after=None)
await asyncio.gather(micropip.install("attrs"), micropip.install("six"))
attrs, six = map(importlib.import_module, ("attrs", "six"))
records = [r for r in micropip_mirror.report(file=None).as_dicts()
           if r["kind"] == "lockfile" and r["target"].startswith(("attrs-", "six-"))]
result = dict(ok=[attrs.__name__, six.__name__], records=records,
              fetch_restored=bool(getattr(js.Object, "is")(js.globalThis.fetch, original_fetch)),
              still_served=list(lockfile._SERVED.files))
""")
    assert result["ok"] == ["attrs", "six"]
    targets = sorted(r["target"].split("-")[0] for r in result["records"])
    assert targets == ["attrs", "six"]  # six downloaded once for both calls
    assert all(r["served_by"] == good_base.split("//")[1].rstrip("/") for r in result["records"])
    assert result["fetch_restored"] and result["still_served"] == []
