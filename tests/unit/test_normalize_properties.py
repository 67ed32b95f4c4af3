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


# -- the fast path for absolute URLs ----------------------------------------------

def _mostly(common: list[str], odd: list[str]):
    """Pieces, the common ones three times as likely: most URLs drawn are plain ones."""
    return st.one_of(*[st.sampled_from(common)] * 3, st.sampled_from(odd))


SCHEMES = _mostly(["https://", "http://"], ["HTTPS://", "ftp://", "//", "https:", "https:///", ""])
HOSTS = _mostly(["files.example", "a.b-c.example", "127.0.0.1"],
                ["[::1]", "[bad", "user:pw@h.example", "h.example.", "é.example", "h_x.example", ""])
PORTS = _mostly(["", ":8080"], [":x", ":", ":99999"])
PATH_PIECES = _mostly(["/", "x.whl", "packages", "ab", "%2B", "-", "_", "~", "+!$&'()*,=", ":", "@", "."],
                      ["/.", "/..", "./", "../", "%", "a b", " ", "\t", "\n", "?", "?q=1", ";", ";p", "#", "é",
                       "\x00", "\\", "[", "]"])
URLS = st.tuples(SCHEMES, HOSTS, PORTS, st.just("/"), st.lists(PATH_PIECES, max_size=8).map("".join)).map("".join)
PLAIN_URLS = st.tuples(st.sampled_from(["https://", "http://"]), st.sampled_from(["files.example", "127.0.0.1:81"]),
                       st.just("/"), st.lists(st.sampled_from(["/", "x.whl", "%2B", "-", "~", "+!$&'()*,=", ":", "@",
                                                               ";", "?", "/.", " "]), max_size=8).map("".join)
                       ).map("".join)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(URLS, PLAIN_URLS), st.sampled_from([URL, "http://m.example:81/a/b"]))
def test_a_url_taken_as_is_is_what_urllib_makes_of_it(link, base):
    """is_plain_url skips urljoin/urlsplit only where their answer is the link itself,
    an http(s) URL (checked against this Python's urllib, in every test venv)."""
    from urllib.parse import urljoin, urlsplit

    from micropip_mirror.normalize import is_plain_url

    if is_plain_url(link):
        assert urljoin(base, link) == link and urlsplit(link).scheme in ("http", "https")
        assert urlsplit(link).netloc and urlsplit(link).hostname


@given(st.sampled_from(["https://files.example/packages/ab/cd/x-1.0-py3-none-any.whl",
                        "http://127.0.0.1:8080/files/x-1.0%2Bcpu-py3-none-any.whl",
                        "https://m.example/p/x-1!2.0-py3-none-any.whl"]))
def test_common_file_urls_take_the_fast_path(link):
    from micropip_mirror.normalize import is_plain_url
    assert is_plain_url(link)
