"""The differential matrix's verdicts, counts and README insertion, on hand-made observations.

Why: a browser run shows only the end result; these pin down that an install with a
dependency missing or another version counts as a failure, that the counts add up,
and that each table lands between its own README markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import differential, fixes_table  # noqa: E402
from tests.support.differential import ShapeCase  # noqa: E402

CASE = ShapeCase("x", "pypi-json", "test case", "mm-yanked", {"mm-yanked": "1.0.0", "mm-lib-b": "2.0.0"})
SDIST = ShapeCase("s", "pypi-json", "sdist", "mm-sdist", {}, error=r"Can't find a pure Python 3 wheel")


def obs(result="ok", error="", **modules) -> dict:
    imported = {m: ({"version": v, "genuine": True} if v else {"version": None, "genuine": None})
                for m, v in modules.items()}
    return {"result": result, "error": error, "seconds": 0.5, "imported": imported, "cap": 20}


@pytest.mark.parametrize("observation,ok", [
    (obs(mm_yanked="1.0.0", mm_lib_b="2.0.0"), True),
    (obs(mm_yanked="2.0.0", mm_lib_b="2.0.0"), False),  # the yanked one
    (obs(mm_yanked="1.0.0", mm_lib_b=None), False),  # installed without its dependency
    (obs("error", "ValueError: Can't find a pure Python 3 wheel for 'mm-yanked'"), False),
    (obs("hangs"), False),
])
def test_passes_only_the_right_install(observation, ok):
    assert differential.passes(CASE, observation) is ok
    assert ("**wrong" in differential.outcome(CASE, observation)) is (observation["result"] == "ok" and not ok)


def test_error_cases_pass_only_with_that_error():
    assert differential.passes(SDIST, obs("error", "ValueError: Can't find a pure Python 3 wheel for 'mm-sdist'"))
    assert not differential.passes(SDIST, obs("error", "AllMirrorsFailed: all mirrors failed"))
    assert not differential.passes(SDIST, obs())


def test_counts():
    rows = {"a": {"plain_ok": True, "shim_ok": True}, "b": {"plain_ok": False, "shim_ok": True},
            "c": {"plain_ok": True, "shim_ok": False}, "d": {"plain_ok": False, "shim_ok": False}}
    assert differential.counts(rows) == {"cases": 4, "plain-passes": 2, "shim-passes": 2,
                                         "shim-only": 1, "plain-only": 1}


def test_case_names_are_unique_and_servers_exist():
    from tests.support import fault_server, shaped_index

    names = [c.name for c in differential.CASES]
    assert len(names) == len(set(names))
    known = set(shaped_index.SHAPES) | set(fault_server.MODES) | {"pypiserver-cors", "proxpi", "upstream-nohash"}
    assert {s for c in differential.CASES for s in c.servers()} <= known


def test_each_table_goes_between_its_markers():
    readme = ("intro\n<!-- fixes-table:start -->\nold faults\n<!-- fixes-table:end -->\nmiddle\n"
              "<!-- differential-table:start -->\nold shapes\n<!-- differential-table:end -->\nend\n")
    both = fixes_table.insert(fixes_table.insert(readme, "NEW FAULTS"), "NEW SHAPES", "differential-table")
    assert both == ("intro\n<!-- fixes-table:start -->\nNEW FAULTS\n<!-- fixes-table:end -->\nmiddle\n"
                    "<!-- differential-table:start -->\nNEW SHAPES\n<!-- differential-table:end -->\nend\n")
    with pytest.raises(ValueError):
        fixes_table.insert("no markers", "x", "differential-table")
