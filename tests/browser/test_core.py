"""The core promise in real Pyodide, in Chromium (CORS enforced) and Node.js:
micropip-mirror installs by name from an index, then installs through a dead
first mirror and past a tampered wheel."""

from __future__ import annotations

import json

import pytest

# Runs on every supported Pyodide release (tests/run: -m core per release).
pytestmark = pytest.mark.core


def install_mirror_pkg(selenium, package_index):
    """micropip.install('micropip-mirror') by name, from a local index."""
    return selenium.run_async(f"""
import micropip
await micropip.install("micropip-mirror", index_urls=[{package_index!r}])
import micropip_mirror
micropip_mirror.__version__
""")


def run_json(selenium, code):
    return json.loads(selenium.run_async(code + "\njson.dumps(result)"))


def test_installs_by_name_from_a_local_index(selenium_standalone, package_index):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    assert install_mirror_pkg(selenium, package_index) == "0.1.0"
    source = selenium.run("import micropip\nmicropip.list()['micropip-mirror'].source")
    assert package_index.split("/simple")[0] in source or source == "pypi"


@pytest.mark.parametrize("dead", ["blackhole", "refused"])
def test_dead_first_mirror_install_succeeds_through_the_next(selenium_standalone, package_index, fleet, cloudflare, dead):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    result = run_json(selenium, f"""
import json, micropip, micropip_mirror
micropip_mirror.enable([{fleet.url(dead)!r}, micropip_mirror.Mirror.cloudflare({cloudflare.origin!r})],
                       timeout=2, hedge_after=None)
await micropip.install("mm-app>=2")
import mm_app, mm_lib_a, mm_lib_b, mm_lib_c
records = micropip_mirror.report(file=None).as_dicts()
result = dict(
    versions=[m.__version__ for m in (mm_app, mm_lib_a, mm_lib_b, mm_lib_c)],
    genuine=all(m.GENUINE for m in (mm_app, mm_lib_a, mm_lib_b, mm_lib_c)),
    index=[r for r in records if r["kind"] == "index"],
    files=[r for r in records if r["kind"] == "file"],
)
""")
    assert result["versions"] == ["2.0.0"] * 4 and result["genuine"]
    first = result["index"][0]
    assert first["target"] == "mm-app" and first["served_by"] == "cloudflare"
    failed = first["attempts"][0]
    assert failed["outcome"] == "failed"
    assert ("timeout after 2 s" if dead == "blackhole" else "network or CORS error") in failed["reason"]
    # Every wheel (and its PEP 658 .metadata) came from the Worker's /files/;
    # every wheel's sha256 was checked.
    wheels = [r for r in result["files"] if r["target"].endswith(".whl")]
    assert len(wheels) == 4
    for record in result["files"]:
        assert record["served_by"] == "cloudflare"
        assert record["attempts"][-1]["url"].startswith(cloudflare.files_url + "/")
    assert all(r["attempts"][-1]["reason"] == "" for r in wheels)


def test_tampered_wheel_is_refused_and_the_genuine_one_installed(selenium_standalone, package_index, fleet, cloudflare):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    result = run_json(selenium, f"""
import json, micropip, micropip_mirror
micropip_mirror.enable([{fleet.url("tampered")!r}, micropip_mirror.Mirror.cloudflare({cloudflare.origin!r})],
                       hedge_after=None)  # strictly in order: the tampered mirror must be asked
await micropip.install("mm-lib-c")
import mm_lib_c
files = [r for r in micropip_mirror.report(file=None).as_dicts() if r["kind"] == "file"]
result = dict(genuine=mm_lib_c.GENUINE, version=mm_lib_c.__version__, files=files)
""")
    assert result["genuine"] is True and result["version"] == "2.0.0"
    (record,) = [r for r in result["files"] if r["target"].endswith(".whl")]
    assert [a["mirror"] for a in record["attempts"]][-1] == "cloudflare"
    assert record["attempts"][0]["reason"].startswith("sha256 mismatch")
    assert record["served_by"] == "cloudflare"


def test_all_mirrors_failing_gives_one_error_naming_each(selenium_standalone, package_index, fleet):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    message = selenium.run_async(f"""
import micropip, micropip_mirror
micropip_mirror.enable([{fleet.url("http-503")!r}, {fleet.url("captive")!r}, {fleet.url("refused")!r}])
try:
    await micropip.install("mm-lib-c")
except micropip_mirror.AllMirrorsFailed as e:
    message = str(e)
message
""")
    assert "all mirrors failed for project 'mm-lib-c'" in message
    assert f"{fleet.url('http-503')}/mm-lib-c/ -> HTTP 503" in message
    assert "lists no distribution files" in message
    assert f"{fleet.url('refused')}/mm-lib-c/ -> network" in message


def test_disable_restores_native_micropip(selenium_standalone, package_index, fleet):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    outcome = selenium.run_async(f"""
import micropip, micropip_mirror
micropip_mirror.enable([{fleet.url("pypiserver-cors")!r}])
micropip_mirror.disable()
before = len(micropip_mirror.report(file=None))
try:
    await micropip.install("mm-lib-c", index_urls=[{fleet.url("http-503")!r}])
    outcome = "installed"
except Exception as e:
    outcome = type(e).__name__
f"{{outcome}} {{len(micropip_mirror.report(file=None)) - before}}"
""")
    # Native micropip fails on its own terms and nothing went through our router.
    assert outcome.split() != ["installed", "0"] and outcome.endswith(" 0")
    assert "AllMirrorsFailed" not in outcome


def test_configuration_and_defaults_fit_the_runtime(selenium_standalone, package_index, fleet, cloudflare):
    """No arguments: MICROPIP_MIRROR_URLS (Cloudflare entry first), else a JS
    global of that name, else built-in defaults that can work here (a browser
    needs CORS; Node.js does not)."""
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    result = run_json(selenium, f"""
import json, os, js, micropip_mirror
os.environ.pop("MICROPIP_MIRROR_URLS", None)
defaults = [m.name for m in micropip_mirror.enable()]
js.MICROPIP_MIRROR_URLS = {fleet.url("upstream")!r}
from_global = [m.index_url for m in micropip_mirror.enable()]
os.environ["MICROPIP_MIRROR_URLS"] = "{fleet.url('blackhole')}, cloudflare:{cloudflare.origin}"
from_env = [m.index_url for m in micropip_mirror.enable()]
micropip_mirror.disable()
result = dict(defaults=defaults, from_global=from_global, from_env=from_env)
""")
    if selenium.browser == "node":
        assert result["defaults"] == ["pypi.org", "tuna", "aliyun", "tencent"]
    else:
        assert result["defaults"] == ["pypi.org"]
    assert result["from_global"] == [fleet.url("upstream")]
    assert result["from_env"] == [cloudflare.index_url, fleet.url("blackhole")]


def test_a_cors_less_mirror_is_skipped_in_a_browser_and_used_in_node(selenium_standalone, package_index, fleet):
    selenium = selenium_standalone  # a fresh page: installs don't leak between tests
    install_mirror_pkg(selenium, package_index)
    served_by = selenium.run_async(f"""
import micropip, micropip_mirror
micropip_mirror.enable([{fleet.url("pypiserver")!r}, {fleet.url("upstream")!r}], hedge_after=None)
await micropip.install("mm-lib-c")
import mm_lib_c
assert mm_lib_c.GENUINE
[r for r in micropip_mirror.report(file=None) if r.kind == "index"][0].served_by
""")
    # pypiserver: HTML only, /packages/ links, no CORS header.
    if selenium.browser == "node":
        assert served_by == fleet.url("pypiserver").split("/")[2]
    else:
        assert served_by == fleet.url("upstream").split("/")[2]
