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


LEFT_OUT_CHECK = """
import json, sys
from micropip._utils import is_package_compatible, sys_tags
from micropip.package_index import _fast_check_incompatibility as micropip_looks_at
from micropip_mirror.normalize import micropip_could_install

def compatible(name):
    verdict = is_package_compatible(name)
    return verdict[0] if isinstance(verdict, tuple) else verdict

accepted = [f"demo_pkg-1.0-{tag}.whl" for tag in sys_tags()]
others = [f"demo_pkg-1.0-{tag}.whl" for tag in (
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp312-cp312-macosx_11_0_arm64",
    "cp312-cp312-win_amd64", "cp313-cp313-musllinux_1_2_x86_64", "py3-none-linux_x86_64",
    "cp312-cp312-pyodide_2024_0_wasm32", "cp313-cp313-pyodide_2025_0_wasm32",
    "cp313-cp313-pyemscripten_2025_0_wasm32", "py3-none-emscripten_3_1_46_wasm32")]
others += ["demo_pkg-1.0.tar.gz", "demo_pkg-1.0.zip", "emscripten_tools-1.0.tar.gz", "demo_pkg-1.0-py3-none-any.WHL"]
json.dumps({
    "platform": sys.platform, "accepted": len(accepted),
    "accepted_but_left_out": [n for n in accepted if not micropip_could_install(n)],
    "we_keep_micropip_drops": [n for n in accepted + others if micropip_could_install(n) and not micropip_looks_at(n)],
    "we_drop_micropip_keeps": [n for n in accepted + others if micropip_looks_at(n) and not micropip_could_install(n)],
    "left_out_yet_compatible": [n for n in others if not micropip_could_install(n) and compatible(n)],
})
"""


@pytest.mark.core
def test_files_left_out_are_those_micropip_never_reads(page):
    """Big pages are cut down to the files micropip could install here (normalize.
    micropip_could_install), checked in the real runtime against this release's
    micropip: a wheel for every tag micropip accepts is kept; a name is left out
    exactly when micropip's own first check drops it, except that micropip 0.6 lacks
    the wasm32 rule of 0.9+ (we keep such wheels; it then drops them itself)."""
    seen = json.loads(page.run(LEFT_OUT_CHECK))
    assert seen["platform"] == "emscripten" and seen["accepted"] > 10
    assert seen["accepted_but_left_out"] == [] and seen["left_out_yet_compatible"] == []
    assert seen["we_drop_micropip_keeps"] == []
    if page.micropip_version.startswith("0.6"):
        assert seen["we_keep_micropip_drops"] and all(n.endswith("wasm32.whl") for n in seen["we_keep_micropip_drops"])
    else:
        assert seen["we_keep_micropip_drops"] == []


PLAIN_URL_CHECK = """
import json
from urllib.parse import urljoin
from micropip_mirror.normalize import is_plain_url
base = "https://mirror.example/simple/demo-pkg/"
links = [a + b for a in ("https://files.example", "http://127.0.0.1:8080", "https://h.example.", "HTTPS://h.example")
         for b in ("/p/x-1.0-py3-none-any.whl", "/p/x-1.0%2Bcpu-py3-none-any.whl", "/p/../x.whl", "/p/./x.whl",
                   "/p/x.whl;", "/p/x.whl?", "/p/x y.whl", "/p//x.whl", "/a:b@c/x.whl", "/p/x.whl/.")]
json.dumps({"taken": sum(map(is_plain_url, links)),
            "taken_yet_changed": [u for u in links if is_plain_url(u) and urljoin(base, u) != u]})
"""


@pytest.mark.core
def test_urls_taken_as_is_are_what_urllib_makes_of_them(page):
    """The fast path for absolute file URLs (normalize.is_plain_url) in this
    release's Python: a URL is taken as is only where urljoin gives it back unchanged."""
    seen = json.loads(page.run(PLAIN_URL_CHECK))
    assert seen["taken"] >= 8 and seen["taken_yet_changed"] == []
