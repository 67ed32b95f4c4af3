"""Answers shaped like the real ones mirrors give (see the project's REFERENCE notes)."""

import hashlib
import json

SHA = hashlib.sha256(b"demo wheel 2.0").hexdigest()
SHA_OLD = hashlib.sha256(b"demo wheel 1.0").hexdigest()
PATH_NEW = "/packages/aa/bb/cafe/demo_pkg-2.0.0-py3-none-any.whl"
PATH_OLD = "/packages/cc/dd/beef/demo_pkg-1.0.0-py3-none-any.whl"


def pypi_json() -> bytes:
    """pypi.org: PEP 691 JSON, files on files.pythonhosted.org."""
    return json.dumps({
        "meta": {"api-version": "1.1", "_last-serial": 1},
        "name": "demo-pkg",
        "versions": ["1.0.0", "2.0.0"],
        "files": [
            {"filename": "demo_pkg-1.0.0-py3-none-any.whl",
             "url": "https://files.pythonhosted.org" + PATH_OLD,
             "hashes": {"sha256": SHA_OLD}, "requires-python": ">=3.8",
             "yanked": False, "core-metadata": {"sha256": "0" * 64}, "size": 14},
            {"filename": "demo-pkg-2.0.0.tar.gz",
             "url": "https://files.pythonhosted.org/packages/ee/ff/00/demo-pkg-2.0.0.tar.gz",
             "hashes": {"sha256": "1" * 64}, "requires-python": None, "yanked": False},
            {"filename": "demo_pkg-2.0.0-py3-none-any.whl",
             "url": "https://files.pythonhosted.org" + PATH_NEW,
             "hashes": {"sha256": SHA}, "requires-python": ">=3.8",
             "yanked": "broken build", "core-metadata": False, "size": 14},
        ],
    }).encode()


def tuna_json() -> bytes:
    """TUNA: PEP 691 JSON with PyPI's path layout under its own host, relative."""
    data = json.loads(pypi_json())
    for f in data["files"]:
        f["url"] = "../.." + f["url"].removeprefix("https://files.pythonhosted.org")
    return json.dumps(data).encode()


def aliyun_html() -> bytes:
    """Aliyun/Tencent/Huawei: PEP 503 HTML, relative ../../packages/ links."""
    return f"""<!DOCTYPE html>
<html><head><title>Links for demo-pkg</title></head>
<body><h1>Links for demo-pkg</h1>
<a href="../..{PATH_OLD}#sha256={SHA_OLD}" data-requires-python="&gt;=3.8">demo_pkg-1.0.0-py3-none-any.whl</a><br/>
<a href="../..{PATH_NEW}#sha256={SHA}" data-requires-python="&gt;=3.8" data-yanked="broken build" data-dist-info-metadata="sha256={'2' * 64}">demo_pkg-2.0.0-py3-none-any.whl</a><br/>
</body></html>""".encode()


def simple_repository_server_json() -> bytes:
    """simple-repository-server serving a folder: relative URLs, empty hashes."""
    return json.dumps({
        "meta": {"api-version": "1.1"}, "name": "demo-pkg", "versions": ["2.0.0"],
        "files": [{"filename": "demo_pkg-2.0.0-py3-none-any.whl",
                   "url": "../../resources/demo-pkg/demo_pkg-2.0.0-py3-none-any.whl",
                   "hashes": {}, "requires-python": None, "core-metadata": True,
                   "dist-info-metadata": True, "yanked": False, "size": 14}],
    }).encode()


def pypiserver_html() -> bytes:
    """pypiserver: HTML only, absolute-path links /packages/<file>#sha256=."""
    return f"""<html><head><title>Links for demo-pkg</title></head><body>
<h1>Links for demo-pkg</h1>
<a href="/packages/demo_pkg-2.0.0-py3-none-any.whl#sha256={SHA}">demo_pkg-2.0.0-py3-none-any.whl</a><br>
</body></html>""".encode()


def legacy_json() -> bytes:
    """pypi.org's /pypi/<name>/json."""
    return json.dumps({
        "info": {"name": "demo-pkg", "version": "2.0.0"},
        "releases": {
            "1.0.0": [{"filename": "demo_pkg-1.0.0-py3-none-any.whl",
                       "url": "https://files.pythonhosted.org" + PATH_OLD,
                       "digests": {"sha256": SHA_OLD, "md5": "x"}, "requires_python": ">=3.8",
                       "yanked": False, "yanked_reason": None, "size": 14}],
            "2.0.0": [{"filename": "demo_pkg-2.0.0-py3-none-any.whl",
                       "url": "https://files.pythonhosted.org" + PATH_NEW,
                       "digests": {"sha256": SHA}, "requires_python": ">=3.8",
                       "yanked": True, "yanked_reason": "broken build", "size": 14}],
            "not-a-version!": [],
        },
        "urls": [],
    }).encode()


CAPTIVE_PORTAL = b"<html><body><h1>Please log in</h1><a href='/login'>Log in</a></body></html>"
