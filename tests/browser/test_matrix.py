"""The fault matrix: each way a mirror fails, first in the list, in headless Chromium.

For every case the same page runs two installs of ``mm-app>=2`` (a 4-deep tree):
plain micropip given the list as ``index_urls`` (an observation, capped at
ALONE_CAP seconds and recorded as "hangs" past it) and micropip-mirror enabled
with the same list (asserted: installs the genuine, expected versions and its
report names the fault).  The module writes the results table to
test-artifacts/ (see tests/support/fixes_table.py for the README).

Cases marked ``core`` run on every Pyodide release:
    pytest tests/browser/test_matrix.py -m core --runtime=chrome \
        --dist-dir ~/.cache/micropip-mirror/pyodide/0.26.4
"""

from __future__ import annotations

import json

import pytest

from tests.support import fixes_table, matrix
from tests.support.projects import LEAVES
from tests.support.matrix import TREE, Case, module_name
from tests.support.worker_mirror import worker_mirror

RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def page(matrix_page, pyodide_version):
    """The module's page (conftest.matrix_page); writes the table when the module ends."""
    yield matrix_page
    if RESULTS:
        path = matrix.write_table(RESULTS, pyodide_version, matrix_page.micropip_version)
        print(f"\nfault matrix table: {path}")
        if path == matrix.TABLE_PATH and fixes_table.wanted():
            fixes_table.update_readme(path)


@pytest.fixture(scope="module")
def dead_files_worker(fleet):
    """A second Worker whose index upstream is healthy but whose file upstream refuses
    connections: its pages list <origin>/files/... URLs that all fail."""
    with worker_mirror(fleet.origin("upstream-nocors"), fleet.origin("refused")) as mirror:
        yield mirror


def run_both(page, case: Case, requirement, mirrors, modules) -> tuple[dict, dict]:
    """Plain micropip with the mirrors' index URLs, then micropip-mirror with the mirrors."""
    alone = matrix.observe(page, "alone", requirement, index_urls=[m["index_url"] for m in mirrors],
                           modules=modules)
    mirror = matrix.observe(page, "mirror", requirement, mirrors=mirrors, modules=modules)
    RESULTS[case.name] = {"alone": alone, "mirror": mirror}
    return alone, mirror


def assert_installed(obs: dict, versions: dict):
    assert obs["result"] == "ok", f"{obs['result']}: {obs['error']}\n{json.dumps(obs['records'], indent=1)}"
    assert not matrix.wrong_install(obs, versions), (matrix.wrong_install(obs, versions), obs["imported"])


def assert_named(obs: dict, case: Case, mirror: str):
    """The report has an attempt at the faulty mirror with the case's outcome and reason
    (for outcome "ok": that mirror served the first project page)."""
    if case.outcome == "ok":
        first = next(r for r in obs["records"] if r["kind"] == "index")
        assert first["served_by"] == mirror, first
        obs["named"] = f"answer used, served by {mirror}"
        return
    attempts = matrix.attempts_of(obs["records"], mirror)
    named = [a for a in attempts if a["outcome"] == case.outcome and matrix.reason_matches(case, a["reason"])]
    assert named, f"no {case.outcome} attempt matching {case.reason!r} for {mirror}: {attempts}"
    obs["named"] = f"{named[0]['outcome']}: {named[0]['reason']}"


def _param(case: Case):
    return pytest.param(case, id=case.name, marks=[pytest.mark.core] if case.core else [])


@pytest.mark.parametrize("case", [_param(c) for c in matrix.FAULTS])
def test_fault_first(page, fleet, cloudflare, case):
    mirrors = [{"index_url": fleet.url(case.name), "name": case.name}, matrix.cf(cloudflare)]
    _, obs = run_both(page, case, "mm-app>=2", mirrors, [module_name(n) for n in TREE])
    assert_installed(obs, case.versions)
    assert_named(obs, case, case.name)
    # Only the faulty mirror and the Worker were ever asked.
    assert {a["mirror"] for r in obs["records"] for a in r["attempts"]} <= {case.name, "cloudflare"}


@pytest.mark.core
def test_file_host_dead_downloads_fall_back(page, fleet, cloudflare, dead_files_worker):
    case = matrix.FILE_HOST_DEAD
    mirrors = [matrix.cf(dead_files_worker, "dead-files"), matrix.cf(cloudflare)]
    _, obs = run_both(page, case, "mm-app>=2", mirrors, [module_name(n) for n in TREE])
    assert_installed(obs, case.versions)
    index = [r for r in obs["records"] if r["kind"] == "index"]
    assert index[0]["served_by"] == "dead-files", index  # later ones: dead-files is benched
    wheels = [r for r in obs["records"] if r["kind"] == "file" and r["target"].endswith(".whl")]
    assert len(wheels) == len(TREE) and all(r["served_by"] == "cloudflare" for r in wheels), wheels
    assert_named(obs, case, "dead-files")


def test_every_mirror_faulty_gives_one_error_naming_each(page, fleet):
    case = matrix.ALL_FAULTY
    names = ["blackhole", "refused", "http-500", "no-cors"]
    mirrors = [{"index_url": fleet.url(n), "name": n} for n in names]
    _, obs = run_both(page, case, "mm-app>=2", mirrors, [])
    assert obs["result"] == "error", obs
    assert obs["error"].startswith("AllMirrorsFailed: all mirrors failed for project 'mm-app'"), obs["error"]
    for name in names:
        assert f"- {name}: {fleet.url(name)}/mm-app/ -> " in obs["error"], (name, obs["error"])
    obs["named"] = "AllMirrorsFailed"


def test_enable_then_disable_is_native_micropip(page, fleet, cloudflare):
    """After disable() every patch point is micropip's own object again and an install
    through micropip's own index_urls adds nothing to the report."""
    same = page.run(f"""
import sys, micropip, micropip_mirror
import micropip._compat, micropip.transaction
def points():
    layer = getattr(micropip._compat, "compatibility_layer", None)
    found = [getattr(micropip._compat, "fetch_string_and_headers", None),
             getattr(micropip._compat, "fetch_bytes", None),
             micropip.transaction.Transaction.__dict__["_add_requirement_from_package_index"]]
    for mod in ("micropip.package_index", "micropip.wheelinfo"):
        found += [getattr(sys.modules.get(mod), n, None) for n in ("fetch_string_and_headers", "fetch_bytes")]
    if layer is not None:
        found += [layer.__dict__.get(n) for n in ("fetch_string_and_headers", "fetch_bytes")]
    return found
before = points()
micropip_mirror.enable([{fleet.url("upstream")!r}])
changed = [a is not b for a, b in zip(before, points())]
micropip_mirror.disable()
restored = [a is b for a, b in zip(before, points())]
[any(changed), all(restored)]
""")
    assert same == [True, True]
    obs = matrix.observe(page, "alone", "mm-app>=2", index_urls=[cloudflare.index_url],
                         modules=[module_name(n) for n in TREE])
    assert_installed(obs, matrix.ALL_NEW)
    assert obs["records"] == []


@pytest.mark.parametrize("case", [matrix.WIDE, matrix.BIG], ids=lambda c: c.name)
def test_large_installs_through_the_worker(page, cloudflare, case):
    if case is matrix.WIDE:
        projects = {"mm-wide": "2.0.0", **{leaf: "1.1.0" for leaf in LEAVES}}
    else:
        projects = {"mm-big": "2.0.0"}
    _, obs = run_both(page, case, case.name, [matrix.cf(cloudflare)], [module_name(n) for n in projects])
    assert_installed(obs, projects)
    wheels = [r for r in obs["records"] if r["kind"] == "file" and r["target"].endswith(".whl")]
    assert len(wheels) == len(projects) and all(r["served_by"] == "cloudflare" for r in wheels)
