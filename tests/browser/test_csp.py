"""micropip-mirror on a page whose Content-Security-Policy forbids eval.

The page (and the Pyodide it loads) is served with
``Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'``: scripts only
from its own origin, WebAssembly allowed, no ``eval``/``new Function``. There
micropip-mirror must still install a package from Pyodide's own lockfile (its
fetch wrapper is a proxied Python function, not code built with eval) and one
from an index. Pyodide's base is pointed at a dead port, so the lockfile file
can only arrive through that wrapper.

Not pytest-pyodide: its pages carry no such header; bench/page.py's server
does, with one Chromium per module.
"""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from bench.page import Page, page_server
from tests.support.browser import chromium, dead_url, make_wheel, point_pyodide_js, static_server

pytestmark = pytest.mark.core

CSP = "script-src 'self' 'wasm-unsafe-eval'"


@pytest.fixture(scope="module")
def csp_page(pyodide_dist, micropip_mirror_wheel):
    with page_server(pyodide_dist, micropip_mirror_wheel, {"Content-Security-Policy": CSP}) as base, \
            chromium() as driver:
        yield Page(driver, base, micropip_mirror_wheel.name), base


@pytest.fixture(scope="module")
def csp_index(tmp_path_factory):
    """A PEP 503 index with CORS holding one small project, mm-csp."""
    root = tmp_path_factory.mktemp("csp-index")
    wheel = make_wheel(root / "files", "mm-csp", "1.0.0", {"mm_csp/__init__.py": "OK = True\n"})
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with zipfile.ZipFile(wheel) as zf:  # PEP 658: micropip asks for it first
        (root / "files" / (wheel.name + ".metadata")).write_bytes(
            zf.read("mm_csp-1.0.0.dist-info/METADATA"))
    (root / "simple" / "mm-csp").mkdir(parents=True)
    (root / "simple" / "mm-csp" / "index.html").write_text(
        f'<html><body><a href="../../files/{wheel.name}#sha256={sha256}">{wheel.name}</a></body></html>')
    with static_server(root, cors=True) as origin:
        yield origin + "/simple"


def test_lockfile_and_index_packages_install_under_a_no_eval_csp(csp_page, csp_index):
    page, base = csp_page
    page.fresh()
    dead = dead_url()
    page.js(point_pyodide_js(dead, "py") + "return null;")
    result = page.python(f"""
import js, micropip, micropip_mirror
try:
    js.eval("1")
    eval_blocked = ""
except Exception as e:
    eval_blocked = type(e).__name__ + ": " + str(e).splitlines()[-1]
micropip_mirror.enable([{dead.replace('/dist/', '/simple')!r}, {csp_index!r}],
                       dist_bases=[{base + '/'!r}], hedge_after=None)
await micropip.install(["six", "mm-csp"])
import six, mm_csp
records = micropip_mirror.report(file=None).as_dicts()
_json.dumps(dict(eval_blocked=eval_blocked, six=six.__name__, mm_csp=mm_csp.OK, records=records))
""", timeout=120)
    # The CSP is in force: eval raises (EvalError; Pyodide 0.26 turns it into a SystemError).
    assert result["eval_blocked"], "eval ran: the page has no no-eval CSP"
    assert result["six"] == "six" and result["mm_csp"] is True
    by_kind = {}
    for record in result["records"]:
        by_kind.setdefault(record["kind"], []).append(record)
    (lock,) = by_kind["lockfile"]
    assert lock["target"].startswith("six-")
    assert lock["served_by"] == base.split("//")[1]  # our wrapper, not the dead native base
    assert [a["outcome"] for a in lock["attempts"]] == ["failed", "ok"]
    (index,) = [r for r in by_kind["index"] if r["target"] == "mm-csp"]
    dead_mirror, good_mirror = (a["mirror"] for a in index["attempts"])
    assert index["served_by"] == good_mirror != dead_mirror
    assert index["attempts"][0]["outcome"] == "failed"
    assert {r["served_by"] for r in by_kind["file"]} == {good_mirror}  # wheel, .metadata
