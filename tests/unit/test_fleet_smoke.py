"""The fleet behaves as specified, checked from CPython (requests, pip), not a browser.

Why: browser tests read a fault only as "Failed to fetch" or a timeout; these
tests pin down what each server really sends, so a browser failure can be blamed
on micropip-mirror and not on the fleet.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # tests.support must import however pytest was started
    sys.path.insert(0, str(ROOT))

from tests.support import fault_server  # noqa: E402
from tests.support.fleet import Fleet  # noqa: E402
from tests.support.projects import SPEC, build_projects, wheel_filename  # noqa: E402

PEP691 = "application/vnd.pypi.simple.v1+json"
JSON = {"Accept": PEP691}
HTML = {"Accept": "text/html"}
ORIGIN = {"Origin": "http://127.0.0.1:1"}  # as a browser page on another port would send
SLOW = 1.0


@pytest.fixture(scope="module")
def fleet():
    with Fleet(slow_seconds=SLOW, stall_seconds=SLOW) as f:
        yield f


def get(url, headers=None, **kw):
    kw.setdefault("timeout", 10)
    return requests.get(url, headers={**ORIGIN, **(headers or {})}, **kw)


def cors(resp) -> str | None:
    return resp.headers.get("Access-Control-Allow-Origin")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- projects -------------------------------------------------------------------------------

def test_projects_are_deterministic_and_shaped(tmp_path):
    first = build_projects(tmp_path / "a")
    second = build_projects(tmp_path / "b")
    assert {n: {v: i["sha256"] for v, i in vs.items()} for n, vs in first.items()} == {
        n: {v: i["sha256"] for v, i in vs.items()} for n, vs in second.items()
    }
    assert first["mm-app"]["2.0.0"]["requires"] == ["mm-lib-a"]
    assert first["mm-lib-b"]["1.0.0"]["requires"] == ["mm-lib-c"]
    assert len(first["mm-wide"]["1.0.0"]["requires"]) == 12
    assert 1_000_000 < first["mm-big"]["1.0.0"]["size"] < 1_200_000
    assert all(len(vs) >= 2 for vs in first.values())
    path = tmp_path / "a" / "mm-lib-a" / wheel_filename("mm-lib-a", "1.1.0")
    with zipfile.ZipFile(path) as zf:
        init = zf.read("mm_lib_a/__init__.py").decode()
        record = zf.read("mm_lib_a-1.1.0.dist-info/RECORD").decode()
    assert "__version__ = '1.1.0'" in init and "GENUINE = True" in init
    assert "mm_lib_a/__init__.py,sha256=" in record


def test_second_build_is_cached(tmp_path):
    build_projects(tmp_path)
    t0 = time.monotonic()
    build_projects(tmp_path)
    assert time.monotonic() - t0 < 0.5


# --- real servers -----------------------------------------------------------------------------

def test_upstream_json_has_sha256_and_cors(fleet):
    resp = get(fleet.url("upstream") + "/mm-app/", JSON)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == PEP691
    assert cors(resp) == "*"
    files = {f["filename"]: f for f in resp.json()["files"]}
    for version, info in fleet.projects["mm-app"].items():
        entry = files[info["filename"]]
        assert entry["hashes"] == {"sha256": info["sha256"]}
        assert entry["url"] == f"../../resources/mm-app/{info['filename']}"
        assert entry["core-metadata"] is True


def test_upstream_html_and_project_list(fleet):
    resp = get(fleet.url("upstream") + "/mm-app/", HTML)
    assert resp.headers["Content-Type"].startswith("text/html")
    info = fleet.wheel("mm-app", "1.0.0")
    assert f'href="../../resources/mm-app/{info["filename"]}#sha256={info["sha256"]}"' in resp.text
    listing = get(fleet.url("upstream") + "/", JSON).json()
    assert {p["name"] for p in listing["projects"]} == set(SPEC)


def test_upstream_files_metadata_and_big_wheel(fleet):
    big = fleet.wheel("mm-big", "1.0.0")
    resp = get(big["url"])
    assert resp.status_code == 200 and cors(resp) == "*"
    assert sha256(resp.content) == big["sha256"]
    meta = get(fleet.wheel("mm-app", "2.0.0")["url"] + ".metadata")
    assert meta.status_code == 200
    assert "Requires-Dist: mm-lib-a" in meta.text


def test_upstream_missing_and_redirects_stay_on_proxy(fleet):
    assert get(fleet.url("upstream") + "/no-such-project/", JSON).status_code == 404
    resp = get(fleet.url("upstream") + "/mm-app", JSON, allow_redirects=False)
    assert resp.status_code in (301, 302, 307, 308)
    assert resp.headers["Location"].startswith(fleet.origin("upstream") + "/simple/mm-app/")
    follow = get(fleet.url("upstream") + "/MM_App/", JSON)
    assert follow.status_code == 200 and follow.url.startswith(fleet.origin("upstream"))


def test_preflight(fleet):
    resp = requests.options(
        fleet.url("upstream") + "/mm-app/",
        headers={**ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-test"},
        timeout=5,
    )
    assert resp.status_code == 204
    assert cors(resp) == "*"
    assert "x-test" in resp.headers["Access-Control-Allow-Headers"]


def test_upstream_nohash_gives_empty_hashes(fleet):
    resp = get(fleet.url("upstream-nohash") + "/mm-app/", JSON)
    assert resp.headers["Content-Type"] == PEP691 and cors(resp) == "*"
    assert all(f["hashes"] == {} for f in resp.json()["files"])


def test_raw_servers_have_no_cors(fleet):
    for name in ("upstream-nocors", "pypiserver"):
        resp = get(fleet.url(name) + "/mm-app/")
        assert resp.status_code == 200 and cors(resp) is None, name


def test_pypiserver_html_only(fleet):
    resp = get(fleet.url("pypiserver") + "/mm-app/", JSON)
    assert resp.headers["Content-Type"].startswith("text/html")
    info = fleet.wheel("mm-app", "2.0.0", server="pypiserver")
    assert f'href="/packages/mm-app/{info["filename"]}#sha256={info["sha256"]}"' in resp.text
    with_cors = get(fleet.url("pypiserver-cors") + "/mm-app/")
    assert cors(with_cors) == "*" and with_cors.text == resp.text
    wheel = get(fleet.wheel("mm-app", "2.0.0", server="pypiserver-cors")["url"])
    assert cors(wheel) == "*" and sha256(wheel.content) == info["sha256"]


def test_pip_installs_tree_from_upstream(fleet, tmp_path):
    """A real client (pip) resolves the 4-deep tree through the CORS proxy."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--index-url", fleet.url("upstream"),
         "--target", str(tmp_path), "--disable-pip-version-check", "mm-app"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for mod in ("mm_app", "mm_lib_a", "mm_lib_b", "mm_lib_c"):
        init = (tmp_path / mod / "__init__.py").read_text()
        assert "__version__ = '2.0.0'" in init and "GENUINE = True" in init


def test_pip_rejects_tampered_mirror(fleet, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--no-deps", "--index-url",
         fleet.url("tampered"), "--target", str(tmp_path), "--disable-pip-version-check", "mm-lib-c"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode != 0
    assert "HASH" in out.stderr.upper()


def test_proxpi_serves_the_tree_behind_cors(fleet):
    resp = get(fleet.url("proxpi") + "/mm-app/", JSON)
    assert resp.status_code == 200 and cors(resp) == "*"
    assert resp.headers["Content-Type"].startswith(PEP691)
    info = fleet.wheel("mm-app", "2.0.0")
    (entry,) = [f for f in resp.json()["files"] if f["filename"] == info["filename"]]
    assert entry["url"] == info["filename"] and entry["hashes"] == {"sha256": info["sha256"]}
    wheel = get(fleet.url("proxpi") + "/mm-app/" + entry["url"])
    assert cors(wheel) == "*" and sha256(wheel.content) == info["sha256"]
    assert 'href="mm_app-2.0.0-py3-none-any.whl#sha256=' in get(fleet.url("proxpi") + "/mm-app/", HTML).text


# --- shaped indexes (shaped_index.py) --------------------------------------------------------

def shaped_files(fleet, shape, project, headers=JSON) -> tuple[requests.Response, dict]:
    url = fleet.url(shape)
    resp = get(url.format(package_name=project) if "{" in url else f"{url}/{project}/", headers)
    assert resp.status_code == 200 and cors(resp) == "*", (shape, resp.status_code)
    return resp, fleet.shape_projects.get(project) or fleet.projects[project]


def entries(resp) -> dict:
    return {f["filename"]: f for f in resp.json()["files"]}


def test_pypi_json_shape(fleet):
    resp, spec = shaped_files(fleet, "pypi-json", "mm-local")
    assert resp.headers["Content-Type"] == PEP691
    page = resp.json()
    assert page["meta"]["api-version"] == "1.1" and page["versions"] == ["1.0.0", "2.0.0+cpu"]
    entry = entries(resp)["mm_local-2.0.0+cpu-py3-none-any.whl"]
    assert {"provenance", "size", "upload-time", "yanked"} <= set(entry)
    assert entry["url"].startswith(fleet.origin("pypi-files") + "/packages/")
    assert entry["url"].endswith("/mm_local-2.0.0%2Bcpu-py3-none-any.whl")
    wheel, meta = get(entry["url"]), get(entry["url"] + ".metadata")
    assert sha256(wheel.content) == entry["hashes"]["sha256"] == spec["2.0.0+cpu"]["sha256"]
    assert sha256(meta.content) == entry["core-metadata"]["sha256"] == entry["data-dist-info-metadata"]["sha256"]
    assert "Requires-Dist: mm-lib-b" in meta.text


def test_tuna_json_shape_and_redirect(fleet):
    resp, spec = shaped_files(fleet, "tuna-json", "mm-epoch")
    assert resp.headers["Content-Type"] == PEP691 + "; charset=utf-8"
    entry = entries(resp)["mm_epoch-1!2.0.0-py3-none-any.whl"]
    assert entry["url"].startswith("../../packages/") and entry["url"].endswith("mm_epoch-1%212.0.0-py3-none-any.whl")
    assert "core-metadata" not in entry and "data-dist-info-metadata" not in entry
    wheel = get(requests.compat.urljoin(resp.url, entry["url"]))
    assert sha256(wheel.content) == spec["1!2.0.0"]["sha256"]
    moved = get(fleet.url("tuna-json") + "/MM_Epoch", JSON, allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == "/simple/mm-epoch/"


def test_aliyun_html_shape(fleet):
    resp, spec = shaped_files(fleet, "aliyun-html", "mm-pyreq", HTML)
    assert resp.headers["Content-Type"] == "text/html"
    info = spec["2.0.0"]
    assert f'/{info["filename"]}#sha256={info["sha256"]}" data-requires-python="&gt;=4">' in resp.text
    assert 'href="../../packages/' in resp.text and "data-requires-python=\"&gt;=3.8\"" in resp.text
    assert "metadata" not in resp.text
    yanked, _ = shaped_files(fleet, "aliyun-html", "mm-yanked", HTML)
    assert 'data-yanked="broken release"' in yanked.text
    bare, _ = shaped_files(fleet, "aliyun-html", "mm-yanked-bare", HTML)
    assert 'data-yanked=""' in bare.text
    bare_json, _ = shaped_files(fleet, "pypi-json", "mm-yanked-bare")
    assert entries(bare_json)["mm_yanked_bare-2.0.0-py3-none-any.whl"]["yanked"] is True


def test_pypi_html_and_base_href_shapes(fleet):
    resp, spec = shaped_files(fleet, "pypi-html", "mm-app", HTML)
    assert f'href="{fleet.origin("pypi-files")}/packages/' in resp.text
    assert 'data-core-metadata="sha256=' in resp.text and 'data-dist-info-metadata="sha256=' in resp.text
    based, _ = shaped_files(fleet, "base-href-html", "mm-app", HTML)
    assert f'<base href="{fleet.origin("pypi-files")}/">' in based.text and 'href="packages/' in based.text


def test_legacy_json_shape(fleet):
    resp, spec = shaped_files(fleet, "legacy-json", "mm-yanked")
    data = resp.json()
    assert data["info"]["version"] == "1.0.0"  # the newest that is not yanked
    (newest,) = data["releases"]["2.0.0"]
    assert newest["yanked"] is True and newest["yanked_reason"] == "broken release"
    assert newest["digests"]["sha256"] == spec["2.0.0"]["sha256"]
    assert newest["url"].startswith(fleet.origin("pypi-files") + "/packages/")
    assert get(fleet.url("legacy-json").format(package_name="no-such")).status_code == 404


def test_fragment_and_nohash_shapes(fleet):
    resp, spec = shaped_files(fleet, "fragment-json", "mm-app")
    for entry in resp.json()["files"]:
        version = entry["filename"].split("-")[1]
        assert entry["hashes"] == {} and entry["url"].endswith("#sha256=" + spec[version]["sha256"])
    html, _ = shaped_files(fleet, "nohash-html", "mm-app", HTML)
    assert 'href="/packages/' in html.text and "sha256" not in html.text


def test_metadata_shapes(fleet):
    info = fleet.projects["mm-app"]["2.0.0"]
    seen = {}
    for shape in ("metadata-false", "metadata-404", "metadata-badhash"):
        resp, _ = shaped_files(fleet, shape, "mm-app")
        entry = entries(resp)[info["filename"]]
        meta = get(entry["url"] + ".metadata")
        seen[shape] = (entry["core-metadata"], meta.status_code)
        if meta.status_code == 200:
            assert sha256(meta.content) != entry["core-metadata"]["sha256"]
    assert seen["metadata-false"] == (False, 404)
    assert seen["metadata-404"][1] == 404 and len(seen["metadata-404"][0]["sha256"]) == 64
    assert seen["metadata-badhash"][1] == 200
    resp, _ = shaped_files(fleet, "metadata-mixup", "mm-app")
    entry = entries(resp)[info["filename"]]
    meta = get(entry["url"] + ".metadata")
    assert sha256(meta.content) == entry["core-metadata"]["sha256"] and "Name: mm-other" in meta.text
    resp, _ = shaped_files(fleet, "metadata-garbage", "mm-app")
    entry = entries(resp)[info["filename"]]
    meta = get(entry["url"] + ".metadata")
    assert entry["core-metadata"] is True and meta.status_code == 200 and b"<html>" in meta.content
    resp, _ = shaped_files(fleet, "swapped-nohash", "mm-app")
    wheel = get(entries(resp)[info["filename"]]["url"])
    assert sha256(wheel.content) == fleet.projects["mm-lib-c"]["1.0.0"]["sha256"]
    resp, _ = shaped_files(fleet, "garbage-nohash", "mm-app")
    entry = entries(resp)[info["filename"]]
    wheel = get(entry["url"])
    assert entry["hashes"] == {} and wheel.status_code == 200 and wheel.content.startswith(b"<!DOCTYPE html>")


def test_redirected_and_paced_files(fleet):
    info = fleet.projects["mm-big"]["2.0.0"]
    resp, _ = shaped_files(fleet, "files-redirect", "mm-big")
    url = entries(resp)[info["filename"]]["url"]
    moved = get(url, allow_redirects=False)
    assert moved.status_code == 302 and moved.headers["Location"].startswith(fleet.origin("pypi-files"))
    assert sha256(get(url).content) == info["sha256"]
    small = fleet.projects["mm-app"]["2.0.0"]
    resp, _ = shaped_files(fleet, "slow-files", "mm-app")
    assert sha256(get(entries(resp)[small["filename"]]["url"]).content) == small["sha256"]  # paced, whole


def test_huge_page_and_sdist_only(fleet):
    url = fleet.url("huge-slow") + "/mm-app/"
    with requests.get(url, headers={**ORIGIN, **JSON}, stream=True, timeout=10) as resp:
        assert int(resp.headers["Content-Length"]) > 1_500_000  # sent slowly: read only the start
        assert resp.raw.read(200).startswith(b'{"meta": {"api-version": "1.0"}, "name": "mm-app", "files": [')
    sdist, spec = shaped_files(fleet, "pypi-json", "mm-sdist")  # and an sdist-only project
    assert [f["filename"] for f in sdist.json()["files"]] == ["mm_sdist-1.0.0.tar.gz"]
    assert sha256(get(sdist.json()["files"][0]["url"]).content) == spec["1.0.0"]["sha256"]


def test_quirky_html_shape(fleet):
    resp, spec = shaped_files(fleet, "quirky-html", "mm-pyreq", HTML)
    info = spec["2.0.0"]
    assert (f"<A rel='internal' data-requires-python='&gt;=4' HREF='../../packages/") in resp.text
    assert f"/{info['filename']}?mirror=1&amp;x=2#sha256={info['sha256']}'>" in resp.text


@pytest.mark.parametrize("shape", ["pypi-json", "aliyun-html", "quirky-html"])
def test_pip_reads_the_shapes_as_intended(fleet, tmp_path, shape):
    """pip (which honours yanked, requires-python, <base href>, %-encoding) picks the versions
    the differential matrix expects: the shapes say what they are meant to say."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-cache-dir", "--no-deps", "--index-url",
         fleet.url(shape), "-d", str(tmp_path), "--disable-pip-version-check",
         "mm-yanked", "mm-yanked-bare", "mm-pyreq", "mm-local", "mm-epoch"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mm_epoch-1!2.0.0-py3-none-any.whl", "mm_local-2.0.0+cpu-py3-none-any.whl",
        "mm_pyreq-1.0.0-py3-none-any.whl", "mm_yanked-1.0.0-py3-none-any.whl",
        "mm_yanked_bare-1.0.0-py3-none-any.whl"]


# --- fault modes ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [404, 429, 500, 503])
def test_status_modes(fleet, code):
    for path in ("/mm-app/", "/"):
        resp = get(fleet.url(f"http-{code}") + path, JSON)
        assert resp.status_code == code and cors(resp) == "*"
    if code in (429, 503):
        assert resp.headers["Retry-After"] == "1"


def test_captive_portal(fleet):
    for url in (fleet.url("captive") + "/mm-app/", fleet.origin("captive") + "/resources/x/y.whl"):
        resp = get(url, JSON)
        assert resp.status_code == 200 and cors(resp) == "*"
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "log in" in resp.text


def test_truncated_json(fleet):
    full = get(fleet.url("upstream") + "/mm-app/", JSON).content
    resp = get(fleet.url("truncated-json") + "/mm-app/", HTML)
    assert resp.status_code == 200 and cors(resp) == "*"
    assert resp.headers["Content-Type"] == PEP691
    assert 0 < len(resp.content) < len(full) and full.startswith(resp.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)


def test_cut_connection(fleet):
    with pytest.raises(requests.exceptions.RequestException):
        get(fleet.url("cut-connection") + "/mm-app/", JSON)


def test_stall_sends_the_whole_page_in_two_parts(fleet):
    good = get(fleet.url("upstream") + "/mm-app/", JSON).json()
    resp = get(fleet.url("stall") + "/mm-app/", JSON, stream=True)
    assert resp.status_code == 200 and cors(resp) == "*"
    body = resp.raw.read()
    assert int(resp.headers["Content-Length"]) == len(body) and json.loads(body) == good


@pytest.mark.parametrize("name,label", [("wrong-type-text", "text/plain"), ("wrong-type-octet", "application/octet-stream")])
def test_wrong_content_type(fleet, name, label):
    good = get(fleet.url("upstream") + "/mm-app/", JSON).json()
    resp = get(fleet.url(name) + "/mm-app/", HTML)
    assert resp.status_code == 200 and cors(resp) == "*"
    assert resp.headers["Content-Type"].startswith(label)
    assert json.loads(resp.content) == good


def test_stale_hides_newest(fleet):
    for project in ("mm-app", "mm-leaf-03", "mm-big"):
        newest = fleet.newest(project)
        data = get(fleet.url("stale") + f"/{project}/", JSON).json()
        listed = {f["filename"] for f in data["files"]}
        expected = {i["filename"] for v, i in fleet.projects[project].items() if v != newest}
        assert listed == expected, project
        html = get(fleet.url("stale") + f"/{project}/", HTML).text
        assert fleet.projects[project][newest]["filename"] not in html
        assert all(name in html for name in expected)
    assert get(fleet.wheel("mm-app", "2.0.0", server="stale")["url"]).status_code == 404
    old = fleet.wheel("mm-app", "1.1.0", server="stale")
    assert sha256(get(old["url"]).content) == old["sha256"]


def test_tampered_serves_wrong_bytes_under_right_hash(fleet):
    info = fleet.wheel("mm-lib-a", "2.0.0", server="tampered")
    data = get(fleet.url("tampered") + "/mm-lib-a/", JSON).json()
    entry = next(f for f in data["files"] if f["filename"] == info["filename"])
    assert entry["hashes"]["sha256"] == info["sha256"]
    resp = get(info["url"])
    assert resp.status_code == 200 and cors(resp) == "*"
    assert sha256(resp.content) == info["tampered_sha256"] != info["sha256"]
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        assert "GENUINE = False" in zf.read("mm_lib_a/__init__.py").decode()


def test_redirect_loop(fleet):
    first = get(fleet.url("redirect-loop") + "/mm-app/", allow_redirects=False)
    assert first.status_code == 302 and cors(first) == "*"
    with pytest.raises(requests.exceptions.TooManyRedirects):
        get(fleet.url("redirect-loop") + "/mm-app/")


def test_slow(fleet):
    t0 = time.monotonic()
    resp = get(fleet.url("slow") + "/mm-app/", JSON)
    elapsed = time.monotonic() - t0
    assert resp.status_code == 200 and cors(resp) == "*"
    assert SLOW <= elapsed < SLOW + 2
    assert len(resp.json()["files"]) == len(fleet.projects["mm-app"])


def test_no_cors_mode(fleet):
    resp = get(fleet.url("no-cors") + "/mm-app/", JSON)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == PEP691
    assert cors(resp) is None and "Access-Control-Expose-Headers" not in resp.headers
    assert requests.options(fleet.url("no-cors") + "/mm-app/", timeout=5).status_code == 405


def test_blackhole_never_answers(fleet):
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(fleet.url("blackhole") + "/mm-app/", timeout=1)
    assert time.monotonic() - t0 < 3
    time.sleep(0.1)
    assert any(e["path"] == "/simple/mm-app/" for e in fleet.log("blackhole"))


def test_refused_and_unresolvable(fleet):
    for name in ("refused", "unresolvable"):
        t0 = time.monotonic()
        with pytest.raises(requests.exceptions.ConnectionError):
            get(fleet.url(name) + "/mm-app/", timeout=5)
        assert time.monotonic() - t0 < 3, name


def test_request_log(fleet):
    fleet.clear_log()
    get(fleet.url("http-503") + "/mm-lib-b/")
    get(fleet.url("upstream") + "/mm-lib-b/", JSON)
    entries = fleet.log()
    assert [(e["server"], e["method"], e["path"], e["status"]) for e in entries] == [
        ("http-503", "GET", "/simple/mm-lib-b/", 503),
        ("upstream", "GET", "/simple/mm-lib-b/", 200),
    ]
    assert fleet.log("upstream") == entries[1:]


def test_fault_servers_shut_down_despite_held_connections(fleet):
    servers = fault_server.FaultServers({"upstream": fleet.origin("upstream-nocors"), "tampered_dir": "/nonexistent", "slow_seconds": 30})
    held = [socket.create_connection(("127.0.0.1", servers.ports["blackhole"]))]
    held.append(socket.create_connection(("127.0.0.1", servers.ports["slow"])))
    held[1].sendall(b"GET /simple/mm-app/ HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    t0 = time.monotonic()
    servers.close()
    assert time.monotonic() - t0 < 2
    for sock in held:
        sock.close()


def test_fleet_leaves_no_process_behind():
    f = Fleet(slow_seconds=SLOW).start()
    procs = list(f.procs)
    assert len(procs) == 5 and all(p.poll() is None for p in procs)
    ports = [int(f.origin(n).rsplit(":", 1)[1]) for n in ("upstream", "pypiserver", "upstream-nocors")]
    f.close()
    assert all(p.poll() is not None for p in procs)
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert 0 < f.startup_seconds < 30
