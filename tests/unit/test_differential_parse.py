"""Differential: micropip's own parser (the generation installed in this venv)
reads a mirror's raw answer and micropip-mirror's normalized rendering of it
alike — same files, URLs, versions, hashes, yanked flags — and metadata is
announced exactly when the mirror announced it (PEP 658/714: ``true`` or a
hash; ``false`` or no key means none). On that last point micropip's reading of
the raw answer is wrong (it takes ``false`` for "available"), so the expected
value is computed from the answer itself, not from micropip.

Answers: the real pypi.org pages micropip's maintainers recorded (see
tests/support/pypi_responses.py) and generated pages of every shape.

Files micropip can never install here are left out of our page (normalize.
micropip_could_install): the files left out must be exactly those micropip's own
first check drops, so that what it can install, and its error when nothing fits,
stay the same.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import sys
from urllib.parse import urljoin

import micropip.package_index as package_index
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micropip_mirror.normalize import (_DIST_FILE, PEP691_JSON, micropip_could_install, parse_answer,
                                       to_pep691_json)
from tests.support import pypi_responses

INDEX = "https://mirror.example/simple/"
REAL_PLATFORM = sys.platform  # some tests play Pyodide's "emscripten"


def micropip_reads(body: str, content_type: str, project: str, url: str):
    """micropip's ProjectInfo for an answer, as query_package would parse it."""
    select = package_index._select_parser
    if "index_base_url" in inspect.signature(select).parameters:
        parser = select(content_type, project, index_base_url=url)
    else:
        parser = select(content_type, project)
    return parser(body)


def wheels(info) -> dict[str, dict]:
    """Every compatible wheel micropip lists, by file name, with what it knows of it."""
    out = {}
    for version, files in info.releases.items():
        for w in files:
            out[w.filename] = {
                "version": str(version),
                "url": w.url,
                "sha256": w.sha256,
                "yanked": bool(getattr(w, "yanked", False)),
                "metadata": (w.pep658_metadata_available()
                             if hasattr(w, "pep658_metadata_available") else None),
            }
    return out


def normalized(body: bytes, content_type: str, project: str, url: str):
    page = parse_answer(body, content_type, url, project)
    return page, micropip_reads(to_pep691_json(page), PEP691_JSON, project, url)


def announced_metadata(body: bytes, content_type: str) -> dict[str, bool]:
    """Per file name, whether the raw answer announces a .metadata file."""
    if content_type == "text/html":
        out = {}
        for tag in re.findall(r"<a\s[^>]*>[^<]*</a>", body.decode()):
            name = html.unescape(re.search(r">([^<]*)</a>", tag).group(1)).strip()
            value = re.search(r'data-(?:core|dist-info)-metadata="([^"]*)"', tag)
            out[name] = value is not None and value.group(1).lower() != "false"
        return out
    data = json.loads(body)
    if "files" not in data:  # legacy JSON API: nothing about PEP 658
        return {f["filename"]: False for group in data["releases"].values() for f in group}
    out = {}
    for f in data["files"]:
        value = next((f[k] for k in ("core-metadata", "data-dist-info-metadata") if k in f), None)
        out[f["filename"]] = bool(value) or isinstance(value, dict)
    return out


def assert_same(body: bytes, content_type: str, project: str, page_url: str) -> int:
    raw = wheels(micropip_reads(body.decode(), content_type, project, page_url))
    page, ours = normalized(body, content_type, project, page_url)
    ours = wheels(ours)
    assert ours.keys() == raw.keys()
    expected_meta = announced_metadata(body, content_type)
    for name, seen in ours.items():
        want = raw[name]
        url, _, fragment = urljoin(page_url, want["url"]).partition("#")  # we resolve relative URLs
        sha256 = want["sha256"] or (fragment[7:] if fragment.startswith("sha256=") else None)
        assert (seen["version"], seen["url"], seen["sha256"], seen["yanked"]) == \
               (want["version"], url, sha256, want["yanked"]), name
        if seen["metadata"] is not None:  # micropip 0.9+ reads PEP 658
            assert seen["metadata"] == expected_meta[name], name
    requires_python = raw_requires_python(body, content_type)  # micropip does not keep it
    for entry in page.files:
        assert entry.requires_python == requires_python.get(entry.filename), entry.filename
    assert_left_out_what_micropip_never_reads(body, content_type, page)
    return len(ours)


def micropip_looks_at(filename: str) -> bool:
    """micropip's own first check of a listed file (False: it never reads that entry on)."""
    return package_index._fast_check_incompatibility(filename)


def listed_files(body: bytes, content_type: str) -> list[str]:
    """The distribution file names a raw answer lists."""
    if content_type == "text/html":
        names = [html.unescape(m).strip() for m in re.findall(r"<a\s[^>]*>([^<]*)</a>", body.decode())]
        return [n for n in names if _DIST_FILE.search(n)]
    data = json.loads(body)
    if "files" in data:
        return [f["filename"] for f in data["files"]]
    return [f["filename"] for group in data["releases"].values() for f in group]


def assert_left_out_what_micropip_never_reads(body: bytes, content_type: str, page) -> None:
    """Our page keeps exactly the files micropip's own first check lets through, and
    counts the others; every file left out is one micropip's full check rejects too."""
    listed = listed_files(body, content_type)
    legacy = content_type != "text/html" and "files" not in json.loads(body)
    # micropip reads the legacy JSON API without its first check: there only non-wheels go.
    kept = [n for n in listed if (n.endswith(".whl") if legacy else micropip_looks_at(n))]
    assert [f.filename for f in page.files] == kept
    assert len(page.skipped) == len(listed) - len(kept)
    if sys.platform == REAL_PLATFORM:  # micropip's full check knows this interpreter's tags only
        for name in set(listed) - set(kept):
            assert not _micropip_compatible(name), name


def _micropip_compatible(filename: str) -> bool:
    """micropip's full compatibility check (0.9 returns a bool, 0.10+ a pair)."""
    from micropip._utils import is_package_compatible
    verdict = is_package_compatible(filename)
    return verdict[0] if isinstance(verdict, tuple) else verdict


def raw_requires_python(body: bytes, content_type: str) -> dict[str, str | None]:
    if content_type == "text/html":
        out = {}
        for tag in re.findall(r"<a\s[^>]*>[^<]*</a>", body.decode()):
            name = html.unescape(re.search(r">([^<]*)</a>", tag).group(1)).strip()
            value = re.search(r'data-requires-python="([^"]*)"', tag)
            out[name] = html.unescape(value.group(1)) if value and value.group(1).strip() else None
        return out
    data = json.loads(body)
    files = data.get("files") or [f for group in data["releases"].values() for f in group]
    key = "requires-python" if "files" in data else "requires_python"
    return {f["filename"]: (f.get(key) or None) if (f.get(key) or "").strip() else None
            for f in files}


RECORDED = pypi_responses.answers()


@pytest.mark.parametrize("recorded", RECORDED, ids=[r[0] for r in RECORDED])
def test_recorded_pypi_answers_read_the_same(recorded):
    filename, project, content_type, body = recorded
    url = f"https://pypi.org/simple/{project}/" if "simple" in filename else \
        f"https://pypi.org/pypi/{project}/json"
    assert_same(body, content_type, project, url)


SIMPLE = [r for r in RECORDED if "simple" in r[0]]  # micropip reads the legacy API another way


@pytest.mark.parametrize("recorded", SIMPLE, ids=[r[0] for r in SIMPLE])
def test_recorded_answers_in_pyodide_keep_what_micropip_would_read(recorded, monkeypatch):
    """As in Pyodide (sys.platform "emscripten"): the platform wheels of these real
    pages (numpy's manylinux, macOS, Windows ones) and sdists are left out, and
    micropip reads the same installable wheels from our page as from the raw one."""
    monkeypatch.setattr(sys, "platform", "emscripten")
    filename, project, content_type, body = recorded
    page = parse_answer(body, content_type, "https://pypi.org/simple/x/", project)
    assert page.skipped
    assert_same(body, content_type, project, f"https://pypi.org/simple/{project}/")


def test_recorded_answers_are_all_there():
    """The differential covers each format of each recorded project."""
    names = {r[0] for r in RECORDED}
    for project in ("black", "numpy", "pytest", "pytz"):
        assert {f"{project}_simple.json", f"{project}_simple.html", f"{project}_json.json"} <= names


def test_pypis_false_is_not_announced_metadata():
    """black's pages: PyPI writes core-metadata false for old wheels, a hash for new ones."""
    body = next(r[3] for r in RECORDED if r[0] == "black_simple.json")
    page = parse_answer(body, PEP691_JSON, "https://pypi.org/simple/black/", "black")
    wheels_ = [f for f in page.files if f.filename.endswith(".whl")]
    announced = [f for f in wheels_ if f.core_metadata is not None]
    assert 0 < len(announced) < len(wheels_)
    rendered = json.loads(to_pep691_json(page))["files"]
    assert sum("core-metadata" in f for f in rendered) == len(announced)


# -- generated answers ----------------------------------------------------------------

names = st.sampled_from(["demo-pkg", "Demo_Pkg", "demo.pkg"])
versions = st.sampled_from(["1.0", "1.0.1", "2.0rc1", "1!2.0", "1.0+cpu", "3.0.post1", "0.1.dev2"])
tags = st.sampled_from(["py3-none-any", "py2.py3-none-any", "cp312-cp312-manylinux_2_17_x86_64",
                        "py3-none-emscripten_3_1_58_wasm32"])
hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
meta = st.one_of(st.just("absent"), st.just(False), st.just(True), st.builds(lambda h: {"sha256": h}, hex64))
yanked = st.one_of(st.just(False), st.just(True), st.sampled_from(["broken", ""]))
reqpy = st.one_of(st.none(), st.sampled_from([">=3.8", ">=3.8,<4", "!=3.0.*"]))
hash_place = st.sampled_from(["hashes", "fragment", "none"])

files = st.lists(st.tuples(versions, tags, hex64, meta, yanked, reqpy, hash_place), min_size=1, max_size=8,
                 unique_by=lambda t: (t[0], t[1]))


def _quote(version: str) -> str:
    return version.replace("+", "%2B").replace("!", "%21")


def render(project: str, entries, fmt: str) -> tuple[bytes, str]:
    dist = re.sub(r"[-.]+", "_", project.lower())
    rows = []
    for version, tag, digest, md, yk, rp, place in entries:
        filename = f"{dist}-{version}-{tag}.whl"
        url = f"https://files.example/p/{dist}-{_quote(version)}-{tag}.whl"
        rows.append((filename, url, digest, md, yk, rp, place))
    if fmt == "json":
        out = []
        for filename, url, digest, md, yk, rp, place in rows:
            f = {"filename": filename, "url": url + (f"#sha256={digest}" if place == "fragment" else ""),
                 "hashes": {"sha256": digest} if place == "hashes" else {},
                 "requires-python": rp, "yanked": yk}
            if md != "absent":
                f["core-metadata"] = md
            out.append(f)
        return json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": out}).encode(), PEP691_JSON
    links = []
    for filename, url, digest, md, yk, rp, place in rows:
        attrs = f'href="{url}{f"#sha256={digest}" if place != "none" else ""}"'
        if rp:
            attrs += f' data-requires-python="{html.escape(rp)}"'
        if yk is not False:
            attrs += f' data-yanked="{yk if isinstance(yk, str) else ""}"'
        if md != "absent":
            value = "true" if md is True else "false" if md is False else f"sha256={md['sha256']}"
            attrs += f' data-core-metadata="{value}"'
        links.append(f"<a {attrs}>{filename}</a><br/>")
    return f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>".encode(), "text/html"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names, files, st.sampled_from(["json", "html"]))
def test_generated_answers_read_the_same(project, entries, fmt):
    body, content_type = render(project, entries, fmt)
    assert_same(body, content_type, project, INDEX + project + "/")


# -- the files left out, name by name ------------------------------------------------

PLATFORM_TAGS = ["cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp312-cp312-macosx_11_0_arm64",
                 "cp312-cp312-win_amd64", "cp313-cp313-musllinux_1_2_x86_64", "cp312-abi3-linux_x86_64",
                 "py3-none-any", "py2.py3-none-any", "cp312-none-any", "py3-none-emscripten_3_1_58_wasm32",
                 "cp312-cp312-emscripten_3_1_58_wasm32", "cp312-cp312-pyodide_2024_0_wasm32",
                 "cp313-cp313-pyemscripten_2025_0_wasm32", "cp312-cp312-wasm32", "py3-none-any.WHL"]
odd_names = st.sampled_from(["demo_pkg-1.0", "emscripten_tools-1.0", "linux_utils-2.0", "demo-pkg-1.0",
                             "any-1.0-1", "x"])
odd_tails = st.one_of(st.sampled_from(PLATFORM_TAGS).map(lambda t: f"-{t}" + ("" if t.endswith("WHL") else ".whl")),
                      st.sampled_from([".tar.gz", ".zip", ".egg", ".whl", "-none-any.whl", "-any.whl",
                                       ".whl.metadata", "-wasm32.whl", "wasm32.whl", ".tar.bz2"]),
                      st.text("abcdefghijklmnopqrstuvwxyz0123456789_.-", max_size=30).map(lambda t: t + ".whl"))


@settings(max_examples=300, deadline=None)
@given(odd_names, odd_tails, st.sampled_from(["real", "emscripten"]))
def test_we_leave_out_exactly_what_micropips_first_check_drops(name, tail, platform):
    """Name by name, here and as in Pyodide. One difference, on our side: micropip
    0.6 lacks 0.9's wasm32 rule, so we keep a ``*wasm32.whl`` it drops (it then
    drops it itself, so nothing changes)."""
    filename = name + tail
    real = sys.platform
    try:
        if platform == "emscripten":
            sys.platform = "emscripten"
        ours, micropips = micropip_could_install(filename), micropip_looks_at(filename)
    finally:
        sys.platform = real
    if ours and not micropips:  # only micropip 0.6's missing wasm32 rule
        assert platform == "emscripten" and filename.endswith("wasm32.whl"), filename
        assert not micropip_looks_at_wasm32()
    else:
        assert ours == micropips, filename


def micropip_looks_at_wasm32() -> bool:
    real = sys.platform
    try:
        sys.platform = "emscripten"
        return micropip_looks_at("demo_pkg-1.0-cp312-cp312-pyodide_2024_0_wasm32.whl")
    finally:
        sys.platform = real


def test_every_wheel_micropip_accepts_here_is_kept():
    """A wheel for each of the tags micropip ranks for this interpreter is kept."""
    from micropip._utils import sys_tags
    tags = list(sys_tags())
    assert len(tags) > 50
    for tag in tags:
        filename = f"demo_pkg-1.0-{tag}.whl"
        assert _micropip_compatible(filename), filename
        assert micropip_could_install(filename), filename
