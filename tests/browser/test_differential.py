"""The differential matrix: every index shape as the only mirror, plain micropip vs
micropip-mirror, in headless Chromium (cases in tests/support/differential.py).

For each case the same page installs the case's requirement twice: plain micropip with
``index_urls=[mirror]`` and micropip-mirror enabled with ``[mirror]`` (one case puts a
second mirror after a broken one).  The test fails
when micropip alone ends correctly and micropip-mirror does not, when the installed
versions differ, or when micropip-mirror fails where the mirror can serve.  The module
writes test-artifacts/differential-<pyodide>.{json,md} with the counts.

    pytest tests/browser/test_differential.py -m core --runtime=chrome \
        --dist-dir ~/.cache/micropip-mirror/pyodide/0.26.4
"""

from __future__ import annotations

import json

import pytest

from tests.support import differential, fixes_table, matrix
from tests.support.differential import ShapeCase

RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def page(matrix_page, pyodide_version):
    """The module's page (conftest.matrix_page); writes the summary when the module ends."""
    yield matrix_page
    if RESULTS:
        path = differential.write_summary(RESULTS, pyodide_version, matrix_page.micropip_version)
        print(f"\ndifferential matrix: {path}: {differential.counts(RESULTS)}")
        if path == differential.TABLE_PATH and fixes_table.wanted():
            fixes_table.update_readme(path, marker="differential-table")


def _param(case: ShapeCase):
    return pytest.param(case, id=case.name, marks=[pytest.mark.core] if case.core else [])


@pytest.mark.parametrize("case", [_param(c) for c in differential.CASES])
def test_never_worse_than_plain_micropip(page, fleet, case):
    mirrors = [{"index_url": fleet.url(name), "name": name} for name in case.servers()]
    alone = matrix.observe(page, "alone", case.requirement, index_urls=[m["index_url"] for m in mirrors],
                           modules=case.modules())
    shim = matrix.observe(page, "mirror", case.requirement, mirrors=mirrors, modules=case.modules(),
                          options=case.enable_options())
    plain_ok, shim_ok = differential.passes(case, alone), differential.passes(case, shim)
    RESULTS[case.name] = {
        "plain_ok": plain_ok, "shim_ok": shim_ok,
        "plain": differential.outcome(case, alone), "shim": differential.outcome(case, shim),
        "plain_versions": matrix.installed_versions(alone), "shim_versions": matrix.installed_versions(shim),
        "plain_error": alone["error"], "shim_error": shim["error"],
    }
    said = (f"plain micropip: {RESULTS[case.name]['plain']}\nmicropip-mirror: {RESULTS[case.name]['shim']}"
            f"\nreport: {json.dumps(shim['records'], indent=1)[:3000]}")
    assert not (plain_ok and not shim_ok), f"worse than plain micropip\n{said}"
    if plain_ok and not case.error:  # micropip alone was right: the very same versions
        assert matrix.installed_versions(alone) == matrix.installed_versions(shim), said
    assert shim_ok, f"the mirror can serve this, micropip-mirror did not\n{said}"
