"""With the default policy a dead first mirror costs nothing: until some mirror has
answered in this session every mirror is asked at once (first_hedge_after=0), and
afterwards the one that answered is asked alone. In headless Chromium, real Pyodide.
(The order staying the preference among mirrors that answer is a row of the
differential matrix: huge-slow first, stale second.)"""

from __future__ import annotations

import json

import pytest

from tests.support.browser import load_wheel_into_page

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
    # Asked in the same turn of the event loop, not after a hedge delay (0.25 s
    # before this change); the bound is far above a turn, far below any delay.
    assert good["start_ms"] - dead["start_ms"] < 100
    assert later and all([a["mirror"] for a in r["attempts"]] == ["good"] for r in later)
