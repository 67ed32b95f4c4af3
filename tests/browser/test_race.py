"""Until some mirror has answered in this session every mirror is asked at once, and
a later mirror's answer is taken only once those before it stayed silent for
first_hedge_after: a dead first mirror costs that one wait, a live one still serves.
Afterwards the mirror that answered is asked alone. In headless Chromium, real
Pyodide. (A first mirror already answering is waited for: the differential row
order-kept, huge-slow first, stale second.)"""

from __future__ import annotations

import json

import pytest

from tests.support.browser import load_wheel_into_page
from tests.support.scripted_index import scripted_index, serve_project

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def page(selenium_module_scope, micropip_mirror_wheel):
    selenium_module_scope.run_async("import micropip")
    load_wheel_into_page(selenium_module_scope, micropip_mirror_wheel)
    return selenium_module_scope


def test_a_dead_first_mirror_is_asked_together_with_the_next_and_then_left_alone(page, fleet):
    result = json.loads(page.run_async(f"""
import json, micropip, micropip_mirror
# hedge_after=60: after the first answer nothing else may reach the dead mirror
micropip_mirror.enable([{{"index_url": {fleet.url("blackhole")!r}, "name": "dead"}},
                        {{"index_url": {fleet.url("upstream")!r}, "name": "good"}}], hedge_after=60)
await micropip.install("mm-app>=2")
import mm_app, mm_lib_a, mm_lib_b, mm_lib_c
records = micropip_mirror.report(file=None).as_dicts()
json.dumps(dict(versions=[m.__version__ for m in (mm_app, mm_lib_a, mm_lib_b, mm_lib_c)],
                index=[r for r in records if r["kind"] == "index"]))
"""))
    assert result["versions"] == ["2.0.0"] * 4
    first, *later = result["index"]
    assert first["target"] == "mm-app" and first["served_by"] == "good"
    dead, good = first["attempts"]
    assert (dead["outcome"], dead["reason"]) == ("cancelled", "another mirror answered first")
    assert (dead["mirror"], good["mirror"], good["outcome"]) == ("dead", "good", "ok")
    # Asked in the same turn of the event loop, not after first_hedge_after
    # (0.25 s); the bound is far above a turn, far below that delay.
    assert good["start_ms"] - dead["start_ms"] < 100
    assert later and all([a["mirror"] for a in r["attempts"]] == ["good"] for r in later)


@pytest.mark.parametrize("first_hedge_after, served_by, version", [(30, "first", "2.0.0"), (0, "second", "1.0.0")])
def test_a_live_first_mirror_serves_though_a_lagging_second_answered_sooner(page, tmp_path, first_hedge_after,
                                                                             served_by, version):
    """The first mirror holds its answer until the second (lagging: only 1.0.0) has
    answered; then it answers 2.0.0. Within first_hedge_after it keeps its place,
    as plain micropip would take its page; with first_hedge_after=0 the faster wins."""
    name = f"mm-kept-{first_hedge_after}"
    with scripted_index() as first, scripted_index() as second:
        serve_project(first, name, first.origin, tmp_path / "first", version="2.0.0")
        serve_project(second, name, second.origin, tmp_path / "second", version="1.0.0")
        first.held.add(f"/simple/{name}/")
        result = json.loads(page.run_async(f"""
import asyncio, json, importlib.metadata, micropip, micropip_mirror
from pyodide.http import pyfetch
micropip_mirror.enable([{{"index_url": {first.origin + '/simple'!r}, "name": "first"}},
                        {{"index_url": {second.origin + '/simple'!r}, "name": "second"}}],
                       hedge_after=60, first_hedge_after={first_hedge_after})
task = asyncio.ensure_future(micropip.install({name!r}))
report = micropip_mirror.report(file=None)
while not task.done() and not [a for r in report if r.target == {name!r}
                               for a in r.attempts if a.mirror == "second" and a.outcome == "ok"]:
    await asyncio.sleep(0.02)
await pyfetch({first.origin + '/__release'!r})  # the second has answered: now the first does
await task
(record,) = [r for r in report if r.target == {name!r}]
json.dumps(dict(version=importlib.metadata.version({name!r}), served_by=record.served_by))
"""))
    assert result == {"version": version, "served_by": served_by}
