"""The patch against the real micropip installed here (0.6, 0.9 or 0.11, by venv):
micropip's own query_package, Transaction and WheelInfo run through our router."""

import asyncio
import inspect
import json
import sys

import micropip
import micropip.package_index as package_index
import micropip.transaction as transaction
import micropip.wheelinfo as wheelinfo
import pytest

import micropip_mirror
from micropip_mirror import AllMirrorsFailed, Mirror, UnsupportedMicropip
from micropip_mirror.adapters import adapter_for

from .fakes import Scripted, page, sha, wheel

A = Mirror("https://a.example/simple", name="a")
B = Mirror("https://b.example/simple", name="b")
WHL1, WHL2 = "demo_pkg-1.0.0-py3-none-any.whl", "demo_pkg-2.0.0-py3-none-any.whl"
GOOD1, GOOD2 = wheel(version="1.0.0"), wheel(version="2.0.0")


def html(files):
    links = "".join(f'<a href="{url}#sha256={h}">{fn}</a><br>' for fn, url, h in files)
    return f"<html><body>{links}</body></html>".encode()


def compat():
    """micropip 0.10+ passes its compatibility layer around as a value."""
    return getattr(sys.modules["micropip._compat"], "compatibility_layer", None)


async def query(name):
    kwargs = {"index_urls": ["https://pypi.org/simple"]}
    if "compat_layer" in inspect.signature(package_index.query_package).parameters:
        kwargs["compat_layer"] = compat()
    return await package_index.query_package(name, **kwargs)


def new_transaction():
    fields = dict(ctx={"extra": "", "python_version": "3.12"}, ctx_extras=[], keep_going=False,
                  deps=False, pre=False, fetch_kwargs={}, index_urls=["https://pypi.org/simple"])
    if "_compat_layer" in transaction.Transaction.__dataclass_fields__:
        fields["_compat_layer"] = compat()
    return transaction.Transaction(**fields)


@pytest.fixture
def mirrors():
    """A: HTML-only with relative links and a stale list (1.0 only), B: full JSON."""
    t = Scripted({
        A.project_url("demo-pkg"): page("https://a.example/simple/demo-pkg/",
                                        html([(WHL1, "../../files/" + WHL1, sha(GOOD1))]), "text/html"),
        B.project_url("demo-pkg"): page(B.project_url("demo-pkg"), json.dumps({
            "name": "demo-pkg", "files": [
                {"filename": f, "url": "https://b.example/files/" + f, "hashes": {"sha256": sha(d)}}
                for f, d in ((WHL1, GOOD1), (WHL2, GOOD2))]}).encode()),
        "https://a.example/files/" + WHL1: GOOD1,
        "https://b.example/files/" + WHL1: GOOD1,
        "https://b.example/files/" + WHL2: GOOD2,
    })
    originals = _sites()
    micropip_mirror.enable([A, B], transport=t, hedge_after=None, timeout=1)
    yield t
    micropip_mirror.disable()
    assert _sites() == originals, "disable() must put back exactly what was there"


def _sites():
    layer = compat()
    return (package_index.__dict__.get("fetch_string_and_headers"),
            wheelinfo.__dict__.get("fetch_bytes"),
            layer and layer.__dict__.get("fetch_string_and_headers"),
            layer and layer.__dict__.get("fetch_bytes"),
            transaction.Transaction.__dict__["_add_requirement_from_package_index"])


def test_micropips_own_parser_reads_our_normalized_html_answer(mirrors):
    info = asyncio.run(query("Demo_Pkg"))
    versions = sorted(str(v) for v in info.releases)
    assert versions == ["1.0.0"]  # from A, relative link made absolute
    (whl,) = list(info.releases[max(info.releases)])
    assert whl.url == "https://a.example/files/" + WHL1 and whl.sha256 == sha(GOOD1)


def test_a_requirement_a_stale_mirror_lacks_is_served_by_the_next(mirrors):
    txn = new_transaction()
    asyncio.run(txn.add_requirement("demo-pkg>=2"))
    (whl,) = txn.wheels
    assert str(whl.version) == "2.0.0" and whl.url == "https://b.example/files/" + WHL2
    records = micropip_mirror.report(file=None)
    index = [r for r in records if r.kind == "index"][-1]
    assert [a.outcome for a in index.attempts] == ["stale", "ok"]


def test_wheels_download_through_the_router_with_hash_check(mirrors):
    mirrors.routes["https://a.example/files/" + WHL1] = wheel(version="1.0.0", genuine=False)
    txn = new_transaction()
    asyncio.run(txn.add_requirement("demo-pkg<2"))
    (whl,) = txn.wheels
    assert whl._data == GOOD1  # tampered copy on A refused, B's genuine one used
    record = micropip_mirror.report(file=None)[-1]
    assert record.kind == "file" and record.served_by == "b"
    assert "sha256 mismatch" in record.attempts[0].reason


def test_when_every_mirror_fails_micropip_raises_our_error_naming_each(mirrors):
    mirrors.routes.clear()
    txn = new_transaction()
    with pytest.raises(AllMirrorsFailed) as err:
        asyncio.run(txn.add_requirement("demo-pkg"))
    assert "a: https://a.example/simple/demo-pkg/ -> HTTP 404" in str(err.value)
    assert "b: https://b.example/simple/demo-pkg/ -> HTTP 404" in str(err.value)


def test_other_urls_go_to_micropips_own_fetch(mirrors):
    async def go():
        fetch = (compat() or package_index).fetch_string_and_headers
        return await fetch("http://127.0.0.1:9/nothing-here.json", {})
    with pytest.raises(Exception) as err:
        asyncio.run(go())
    assert not isinstance(err.value, micropip_mirror.MirrorError)
    assert mirrors.asked == []


def test_enable_twice_is_safe_and_disable_restores():
    before = _sites()
    micropip_mirror.enable([A])
    micropip_mirror.enable([B])
    assert micropip_mirror.is_enabled()
    micropip_mirror.disable()
    micropip_mirror.disable()
    assert _sites() == before and not micropip_mirror.is_enabled()


def test_unknown_micropip_gets_a_clear_error_and_nothing_is_patched(monkeypatch):
    before = _sites()
    monkeypatch.setattr(micropip, "__version__", "0.99.0")
    with pytest.raises(UnsupportedMicropip, match="0.99.0 is not supported"):
        micropip_mirror.enable([A])
    assert _sites() == before and not micropip_mirror.is_enabled()


def test_the_adapter_matches_this_micropip():
    expected = {"0.6": "0.6", "0.9": "0.7-0.9", "0.10": "0.10-0.11", "0.11": "0.10-0.11"}
    major_minor = ".".join(micropip.__version__.split(".")[:2])
    assert adapter_for(micropip).generation == expected[major_minor]


def test_import_and_enable_leave_unused_code_unimported():
    """Each module costs milliseconds to compile in Pyodide: a plain import +
    enable([...]) must not load the lockfile, probe, catalogue or JupyterLite code."""
    import subprocess

    code = ("import sys, micropip_mirror; micropip_mirror.enable(['https://a.example/simple']);"
            "print(sorted(m for m in sys.modules if m.startswith('micropip_mirror.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {m.split(".")[1] for m in eval(out)}
    assert loaded.isdisjoint({"lockfile", "probe", "catalogue", "jupyterlite"}), loaded
    assert {"patch", "router", "normalize"} <= loaded, loaded
    assert micropip_mirror.ProbeSettings.__module__ == "micropip_mirror.probe"  # still public
