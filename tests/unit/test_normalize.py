"""The normalizer against real answer shapes: every one yields the same page."""

import json

import pytest

from micropip_mirror.errors import InvalidAnswer
from micropip_mirror.normalize import PEP691_JSON, parse_answer, to_pep691_json

from . import answers

BASE = "https://mirror.example/simple/demo-pkg/"


def _wheels(page):
    return {f.filename: f for f in page.files if f.filename.endswith(".whl")}


@pytest.mark.parametrize("body,ctype", [
    (answers.pypi_json(), PEP691_JSON),
    (answers.pypi_json(), "application/json"),
    (answers.pypi_json(), "text/plain; charset=utf-8"),
    (answers.legacy_json(), "application/json"),
    (answers.aliyun_html(), "text/html"),
    (answers.aliyun_html(), "application/vnd.pypi.simple.v1+html"),
])
def test_every_shape_gives_the_same_wheels(body, ctype):
    page = parse_answer(body, ctype, BASE, "demo-pkg")
    wheels = _wheels(page)
    assert set(wheels) == {"demo_pkg-1.0.0-py3-none-any.whl", "demo_pkg-2.0.0-py3-none-any.whl"}
    assert wheels["demo_pkg-2.0.0-py3-none-any.whl"].sha256 == answers.SHA
    assert wheels["demo_pkg-2.0.0-py3-none-any.whl"].yanked == "broken build"
    assert wheels["demo_pkg-1.0.0-py3-none-any.whl"].requires_python == ">=3.8"
    assert wheels["demo_pkg-2.0.0-py3-none-any.whl"].version == "2.0.0"


def test_relative_links_resolve_against_the_final_url():
    page = parse_answer(answers.aliyun_html(), "text/html",
                        "https://mirrors.aliyun.com/pypi/simple/demo-pkg/", "demo-pkg")
    assert _wheels(page)["demo_pkg-2.0.0-py3-none-any.whl"].url == \
        "https://mirrors.aliyun.com/pypi" + answers.PATH_NEW
    page = parse_answer(answers.tuna_json(), PEP691_JSON,
                        "https://pypi.tuna.tsinghua.edu.cn/simple/demo-pkg/", "demo-pkg")
    assert _wheels(page)["demo_pkg-2.0.0-py3-none-any.whl"].url == \
        "https://pypi.tuna.tsinghua.edu.cn" + answers.PATH_NEW


def test_html_metadata_and_base_href():
    page = parse_answer(answers.aliyun_html(), "text/html", BASE, "demo-pkg")
    assert _wheels(page)["demo_pkg-2.0.0-py3-none-any.whl"].core_metadata == {"sha256": "2" * 64}
    html = b'<base href="https://files.example/x/"><a href="f/demo_pkg-1.0-py3-none-any.whl">demo_pkg-1.0-py3-none-any.whl</a>'
    page = parse_answer(html, "text/html", BASE, "demo-pkg")
    assert page.files[0].url == "https://files.example/x/f/demo_pkg-1.0-py3-none-any.whl"


def test_simple_repository_server_relative_urls_and_empty_hashes():
    page = parse_answer(answers.simple_repository_server_json(), PEP691_JSON,
                        "http://127.0.0.1:8000/simple/demo-pkg/", "demo-pkg")
    (wheel,) = page.files
    assert wheel.url == "http://127.0.0.1:8000/resources/demo-pkg/demo_pkg-2.0.0-py3-none-any.whl"
    assert wheel.sha256 is None and wheel.core_metadata is True


def test_pypiserver_absolute_path_links():
    page = parse_answer(answers.pypiserver_html(), "text/html",
                        "http://127.0.0.1:9000/simple/demo-pkg/", "demo-pkg")
    assert page.files[0].url == "http://127.0.0.1:9000/packages/demo_pkg-2.0.0-py3-none-any.whl"


@pytest.mark.parametrize("body,ctype,words", [
    (answers.CAPTIVE_PORTAL, "text/html", "lists no distribution files"),
    (answers.pypi_json()[:100], PEP691_JSON, "unparsable JSON"),
    (b"\xff\xfe\x00garbage", "application/octet-stream", "not UTF-8"),
    (answers.pypi_json(), "image/png", "not an index page"),
    (b"hello", "text/plain", "neither JSON nor HTML"),
    (b'{"files": [], "meta": {"api-version": "2.0"}}', PEP691_JSON, "api-version"),
    (b'{"files": [{"filename": 3}]}', PEP691_JSON, "filename"),
    (b'{"hello": 1}', "application/json", "neither 'files'"),
])
def test_bad_answers_give_a_clear_error(body, ctype, words):
    with pytest.raises(InvalidAnswer, match=words):
        parse_answer(body, ctype, BASE, "demo-pkg")


def test_an_answer_for_another_project_is_refused():
    with pytest.raises(InvalidAnswer, match="not 'other'"):
        parse_answer(answers.pypi_json(), PEP691_JSON, BASE, "other")


def test_non_http_file_urls_are_refused():
    body = json.dumps({"name": "demo-pkg", "files": [
        {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "file:///etc/passwd", "hashes": {}},
        {"filename": "demo_pkg-2.0-py3-none-any.whl", "url": "emfs:/tmp/x.whl", "hashes": {}},
        {"filename": "demo_pkg-3.0-py3-none-any.whl", "url": "/ok/demo_pkg-3.0-py3-none-any.whl", "hashes": {}},
    ]}).encode()
    page = parse_answer(body, PEP691_JSON, BASE, "demo-pkg")
    assert [f.url for f in page.files] == ["https://mirror.example/ok/demo_pkg-3.0-py3-none-any.whl"]
    assert len(page.refused) == 2


def test_output_is_pep691_json_with_absolute_urls():
    page = parse_answer(answers.aliyun_html(), "text/html", BASE, "demo-pkg")
    out = json.loads(to_pep691_json(page))
    assert out["meta"]["api-version"] == "1.0" and out["name"] == "demo-pkg"
    for f in out["files"]:
        assert f["url"].startswith("https://") and isinstance(f["hashes"], dict)


def test_base_href_percent_encoding_and_escaped_attributes():
    """Aliyun/Tencent-like HTML: <base href>, %2B and %21 in URLs, &gt; in attributes."""
    md5 = "0123456789abcdef0123456789abcdef"
    body = (b'<html><head><base href="https://cdn.example/pkgs/"/></head><body>'
            b'<a href="local/demo_pkg-1.0%2Bcpu-py3-none-any.whl#md5=' + md5.encode() + b'"'
            b' data-requires-python="&gt;=3.8">demo_pkg-1.0+cpu-py3-none-any.whl</a>'
            b'<a href="demo_pkg-1%212.0-py3-none-any.whl"></a></body></html>')
    page = parse_answer(body, "text/html", BASE, "demo-pkg")
    local, epoch = page.files
    assert local.url == "https://cdn.example/pkgs/local/demo_pkg-1.0%2Bcpu-py3-none-any.whl"
    assert local.hashes == {"md5": md5} and local.best_hash == ("md5", md5)
    assert local.requires_python == ">=3.8"
    assert epoch.filename == "demo_pkg-1!2.0-py3-none-any.whl"  # from the URL, decoded
    assert epoch.url == "https://cdn.example/pkgs/demo_pkg-1%212.0-py3-none-any.whl"
    assert epoch.hashes == {}


def test_fragment_hash_in_pep691_json_is_the_hash_and_leaves_the_url():
    sha = "ab" * 32
    body = json.dumps({"name": "demo-pkg", "files": [
        {"filename": "demo_pkg-1.0-py3-none-any.whl", "hashes": {},
         "url": f"https://f.example/demo_pkg-1.0-py3-none-any.whl#sha256={sha}"}]}).encode()
    (entry,) = parse_answer(body, PEP691_JSON, BASE, "demo-pkg").files
    assert entry.url == "https://f.example/demo_pkg-1.0-py3-none-any.whl" and entry.sha256 == sha
    out = json.loads(to_pep691_json(parse_answer(body, PEP691_JSON, BASE, "demo-pkg")))
    assert out["files"][0]["url"] == entry.url and out["files"][0]["hashes"] == {"sha256": sha}


@pytest.mark.parametrize("flag,announced", [("absent", False), (False, False), (None, False),
                                            (True, True), ({"sha256": "cd" * 32}, True)])
def test_metadata_is_announced_only_when_the_mirror_announces_it(flag, announced):
    entry = {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "https://f.example/x.whl",
             "hashes": {}}
    if flag != "absent":
        entry["core-metadata"] = entry["data-dist-info-metadata"] = flag
    body = json.dumps({"name": "demo-pkg", "files": [entry]}).encode()
    (out,) = json.loads(to_pep691_json(parse_answer(body, PEP691_JSON, BASE, "demo-pkg")))["files"]
    assert ("core-metadata" in out) is announced and ("data-dist-info-metadata" in out) is announced


def test_files_left_out_are_not_read_further(monkeypatch):
    """As in Pyodide: an sdist and a Windows wheel are counted and left out unread (a
    malformed entry there no longer sinks the page: micropip never reads it either);
    malformed entries among the files kept are still refused and reported."""
    import sys
    monkeypatch.setattr(sys, "platform", "emscripten")
    body = json.dumps({"name": "demo-pkg", "files": [
        {"filename": "demo_pkg-1.0.tar.gz", "url": "https://m.example/a.tar.gz", "hashes": ["not", "a", "dict"]},
        {"filename": "demo_pkg-1.0-cp312-cp312-win_amd64.whl", "url": "http://[bad/x.whl", "hashes": {}},
        {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "javascript:alert(1)", "hashes": {}},
        {"filename": "demo_pkg-1.0-cp312-cp312-pyodide_2024_0_wasm32.whl", "url": "/f/w.whl", "hashes": {}},
    ]}).encode()
    page = parse_answer(body, PEP691_JSON, BASE, "demo-pkg")
    assert [f.filename for f in page.files] == ["demo_pkg-1.0-cp312-cp312-pyodide_2024_0_wasm32.whl"]
    assert len(page.skipped) == 2 and len(page.refused) == 1 and "javascript" in page.refused[0]


@pytest.mark.parametrize("href", [
    "http://h.example/a\t/demo_pkg-1.0-py3-none-any.whl",
    "http://h.example/a\n/demo_pkg-1.0-py3-none-any.whl",
    "\thttp://h.example/a/demo_pkg-1.0-py3-none-any.whl",
    " http://h.example/a/demo_pkg-1.0-py3-none-any.whl\r\n",
    "http://h.exa\r\nmple/a/demo_pkg-1.0-py3-none-any.whl",
])
def test_tabs_newlines_and_outer_blanks_in_a_link_are_gone_from_its_url(href):
    """As a browser reads the link (WHATWG URL: tabs and newlines removed, outer blanks and
    control characters stripped), and as micropip's own urljoin does for a link whose scheme
    is the page's: urljoin hands a link of another scheme back as it is."""
    page = f'<a href="{href}">demo_pkg-1.0-py3-none-any.whl</a>'.encode()
    (entry,) = parse_answer(page, "text/html", BASE, "demo-pkg").files
    assert entry.url == "http://h.example/a/demo_pkg-1.0-py3-none-any.whl"
