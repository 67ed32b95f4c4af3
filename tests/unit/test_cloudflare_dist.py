"""A Cloudflare mirror is also a Pyodide distribution base (worker/: /pyodide/v<version>/full/)."""

from __future__ import annotations

import pytest

from micropip_mirror.config import resolve
from micropip_mirror.errors import ConfigError
from micropip_mirror.lockfile import candidate_bases, mirror_bases
from micropip_mirror.mirrors import Mirror


def test_cloudflare_mirror_serves_the_running_pyodide():
    cf = Mirror.cloudflare("https://mirror.example.cn/")
    assert cf.dist_base("314.0.7") == "https://mirror.example.cn/pyodide/v314.0.7/full/"
    assert Mirror("https://pypi.org/simple").dist_base("314.0.7") is None


def test_mirror_bases_from_the_configuration_string():
    mirrors = resolve(["cloudflare:https://cf.example", "https://mirrors.aliyun.com/pypi/simple/"])
    assert mirror_bases(mirrors, "0.29.3") == ["https://cf.example/pyodide/v0.29.3/full/"]
    assert mirror_bases(mirrors, None) == []  # not in Pyodide: no version, no base


def test_mirror_base_comes_after_the_native_one_and_is_not_repeated():
    cf = "https://cf.example/pyodide/v0.29.3/full/"
    cdn = "https://cdn.jsdelivr.net/pyodide/v0.29.3/full/"
    assert candidate_bases(cdn, [cf])[0] == cdn and cf in candidate_bases(cdn, [cf])
    assert candidate_bases(cf, [cf]) == [cf]  # Pyodide loaded from the mirror itself


def test_pyodide_url_must_be_http():
    with pytest.raises(ConfigError):
        Mirror("https://x.example/simple", pyodide_url="file:///etc/")
