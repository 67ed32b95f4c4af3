"""Property tests: whatever bytes a mirror sends, the normalizer returns a valid
page or raises InvalidAnswer, never anything else."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micropip_mirror.errors import InvalidAnswer
from micropip_mirror.normalize import parse_answer, to_pep691_json

from . import answers

CTYPES = st.sampled_from(["application/vnd.pypi.simple.v1+json", "application/json",
                          "text/html", "application/vnd.pypi.simple.v1+html", "text/plain",
                          "application/octet-stream", "", "image/png"])
REAL = [answers.pypi_json(), answers.tuna_json(), answers.aliyun_html(),
        answers.simple_repository_server_json(), answers.pypiserver_html(),
        answers.legacy_json()]
URL = "https://mirror.example/simple/demo-pkg/"


def check(body: bytes, ctype: str) -> None:
    try:
        page = parse_answer(body, ctype, URL, "demo-pkg")
    except InvalidAnswer:
        return
    out = json.loads(to_pep691_json(page))
    assert out["name"]
    for f in out["files"]:
        assert f["url"].startswith(("http://", "https://"))
        assert isinstance(f["hashes"], dict) and "/" not in f["filename"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), CTYPES)
def test_random_bytes(body, ctype):
    check(body, ctype)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL), st.data(), CTYPES)
def test_mutated_real_answers(body, data, ctype):
    """Truncate, splice random bytes into, and duplicate parts of real answers."""
    ops = data.draw(st.lists(st.tuples(st.integers(0, len(body)), st.integers(0, 40),
                                       st.binary(max_size=30)), max_size=4))
    for at, cut, insert in ops:
        body = body[:at] + insert + body[at + cut:]
    check(body, ctype)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["name", "files", "meta", "releases", "info", "urls"]),
                       json_values, max_size=5))
def test_json_of_any_shape(data):
    check(json.dumps(data).encode(), "application/vnd.pypi.simple.v1+json")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({}, optional={
    "filename": json_values | st.just("demo_pkg-1.0-py3-none-any.whl"),
    "url": json_values | st.sampled_from(["x.whl", "//h/x.whl", "ftp://h/x", "javascript:1"]),
    "hashes": json_values, "yanked": json_values, "core-metadata": json_values,
    "requires-python": json_values, "size": json_values}), max_size=4))
def test_pep691_files_of_any_shape(files):
    check(json.dumps({"name": "demo-pkg", "files": files}).encode(),
          "application/vnd.pypi.simple.v1+json")
