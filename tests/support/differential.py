"""The differential matrix: each real index shape as the one *serving* mirror, installed
by plain micropip and by micropip-mirror, with the verdicts, counts and table.

Why: micropip-mirror must never be worse than micropip alone.  The fault matrix
(matrix.py) always has a healthy Worker behind the fault; here the shaped mirror is
the only one, so whatever micropip-mirror does with its answers decides the install.
Each case names the versions a correct install ends with (dependencies included and
importable) or the error both must end in; an install that "succeeds" with missing
dependencies or a yanked or Python-incompatible version is a failure.

Cases are data (shared by tests/browser/test_differential.py and fixes_table.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .matrix import ARTIFACTS, MIRROR_OPTIONS, TREE, alone_cell, module_name, short, wrong_install

TABLE_PATH = ARTIFACTS / "differential-table.md"
ALL_NEW = {name: "2.0.0" for name in TREE}
LIB_B = {"mm-lib-b": "2.0.0", "mm-lib-c": "2.0.0"}  # what every projects.SHAPE_SPEC wheel needs


@dataclass(frozen=True)
class ShapeCase:
    """One row: ``server`` (a fleet name) is the only mirror (``also``: mirrors after it);
    install ``requirement``."""

    name: str
    server: str
    describe: str
    requirement: str = "mm-app>=2"
    versions: dict = field(default_factory=lambda: dict(ALL_NEW))  # a correct install
    error: str = ""  # instead of versions: the error (regex) a correct run ends in
    core: bool = False  # also run on every older Pyodide
    also: tuple = ()  # further mirrors (fleet names), after ``server``
    options: dict = field(default_factory=dict)  # enable() options over matrix.MIRROR_OPTIONS

    def enable_options(self) -> dict:
        return {**MIRROR_OPTIONS, **self.options}

    def servers(self) -> list[str]:
        return [self.server, *self.also]

    def modules(self) -> list[str]:
        return [module_name(p) for p in self.versions]


CASES = [
    # Index shapes (each serves the a -> b -> c tree mm-app -> mm-lib-a -> mm-lib-b -> mm-lib-c).
    ShapeCase("pypiserver", "pypiserver-cors", "pypiserver 2.4: HTML, /packages/ links with #sha256=, "
              "no metadata"),
    ShapeCase("proxpi", "proxpi", "proxpi 1.3 caching mirror: JSON by Accept, relative file URLs",
              core=True),
    ShapeCase("srs-folder", "upstream-nohash", "simple-repository-server on a folder: relative "
              "URLs, empty hashes"),
    ShapeCase("pypi-json", "pypi-json", "pypi.org-shaped JSON: core-metadata dicts, provenance, "
              "upload-time, size, files on another origin"),
    ShapeCase("pypi-html", "pypi-html", "pypi.org-shaped HTML: data-core-metadata, files on another "
              "origin"),
    ShapeCase("base-href", "base-href-html", "HTML with `<base href>` on another origin"),
    ShapeCase("tuna-json", "tuna-json", "TUNA-shaped JSON: '; charset=utf-8', relative "
              "../../packages/ URLs, no core-metadata key", core=True),
    ShapeCase("aliyun-html", "aliyun-html", "Aliyun/Tencent-shaped HTML: relative ../../packages/ "
              "links, no metadata attributes, `&gt;=` escaped", core=True),
    ShapeCase("quirky-html", "quirky-html", "HTML in capitals, single quotes, data-* before HREF, "
              "a query string with `&amp;`"),
    ShapeCase("legacy-json", "legacy-json", "legacy JSON API /pypi/<name>/json (info.name mm_app)",
              core=True),
    ShapeCase("fragment-json", "fragment-json", "JSON with the hash only in the URL fragment "
              "('hashes': {})", core=True),
    ShapeCase("nohash-html", "nohash-html", "HTML links with no hash at all"),
    ShapeCase("metadata-false", "metadata-false", "pypi.org's answer for wheels without metadata: "
              "'core-metadata': false, .metadata 404", core=True),
    ShapeCase("metadata-404", "metadata-404", ".metadata advertised with a sha256, HTTP 404",
              core=True),
    ShapeCase("metadata-badhash", "metadata-badhash", ".metadata sha256 differs from the advertised one"),
    ShapeCase("metadata-mixup", "metadata-mixup", ".metadata of another project (Name: mm-other), "
              "its sha256 advertised"),
    ShapeCase("garbage-first", "garbage-nohash", "no hashes, wheels answered by an HTML page; "
              "pypi-json second", also=("pypi-json",)),
    ShapeCase("metadata-garbage", "metadata-garbage", "'core-metadata': true, .metadata is an HTML "
              "page (200)"),
    ShapeCase("swapped-first", "swapped-nohash", "no hashes, every wheel URL serves another project's "
              "wheel; pypi-json second", also=("pypi-json",), core=True),
    ShapeCase("files-redirect", "files-redirect", "every file URL answers 302 to the files host"),
    ShapeCase("slow-download", "slow-files", "a 1 MiB wheel at a steady 200 KB/s (5 s), "
              "download_timeout=2", "mm-big", {"mm-big": "2.0.0"}, options={"download_timeout": 2.0}),
    ShapeCase("huge-slow", "huge-slow", "mm-app's page: 5000 files (~1.8 MB) at a steady 400 KB/s "
              "(longer than timeout=2)"),
    ShapeCase("order-kept", "huge-slow", "huge-slow first (answering for 4.5 s), stale second (fast, "
              "lacks every newest version); default hedging: the first mirror must still win",
              "mm-app", also=("stale",), options={"hedge_after": 1.0, "first_hedge_after": 0.0}),
    ShapeCase("unnormalized-name", "pypi-json", "requirement spelled MM_App (pypi.org-style 301 to "
              "/simple/mm-app/)", "MM_App>=2"),
    # Package shapes.
    ShapeCase("local-version", "pypi-json", "local version 2.0.0+cpu (%2B in the URL), JSON",
              "mm-local", {"mm-local": "2.0.0+cpu", **LIB_B}),
    ShapeCase("local-version-html", "aliyun-html", "local version 2.0.0+cpu, relative HTML links",
              "mm-local", {"mm-local": "2.0.0+cpu", **LIB_B}),
    ShapeCase("local-version-legacy", "legacy-json", "local version 2.0.0+cpu, legacy JSON",
              "mm-local", {"mm-local": "2.0.0+cpu", **LIB_B}),
    ShapeCase("epoch", "pypi-json", "epoch 1!2.0.0 (%21) newer than 3.0.0, JSON",
              "mm-epoch", {"mm-epoch": "1!2.0.0", **LIB_B}),
    ShapeCase("epoch-tuna", "tuna-json", "epoch 1!2.0.0, TUNA-shaped JSON",
              "mm-epoch", {"mm-epoch": "1!2.0.0", **LIB_B}),
    ShapeCase("yanked-newest", "pypi-json", "newest version yanked (JSON 'yanked': reason)",
              "mm-yanked", {"mm-yanked": "1.0.0", **LIB_B}, core=True),
    ShapeCase("yanked-newest-html", "aliyun-html", "newest version yanked (HTML data-yanked)",
              "mm-yanked", {"mm-yanked": "1.0.0", **LIB_B}),
    ShapeCase("yanked-bare-html", "pypi-html", "newest yanked without a reason (HTML data-yanked=\"\")",
              "mm-yanked-bare", {"mm-yanked-bare": "1.0.0", **LIB_B}, core=True),
    ShapeCase("yanked-true-json", "pypi-json", "newest yanked without a reason (JSON 'yanked': true)",
              "mm-yanked-bare", {"mm-yanked-bare": "1.0.0", **LIB_B}),
    ShapeCase("yanked-legacy", "legacy-json", "newest yanked (legacy JSON 'yanked': true, "
              "'yanked_reason')", "mm-yanked", {"mm-yanked": "1.0.0", **LIB_B}),
    ShapeCase("yanked-pinned", "pypi-json", "a yanked version pinned with ==",
              "mm-yanked==2.0.0", {"mm-yanked": "2.0.0", **LIB_B}),
    ShapeCase("requires-python", "pypi-json", "newest needs Python >=4 (requires-python), JSON",
              "mm-pyreq", {"mm-pyreq": "1.0.0", **LIB_B}),
    ShapeCase("requires-python-html", "aliyun-html", "newest needs Python `&gt;=4`, HTML",
              "mm-pyreq", {"mm-pyreq": "1.0.0", **LIB_B}, core=True),
    ShapeCase("requires-python-legacy", "legacy-json", "newest needs Python >=4 (legacy JSON "
              "'requires_python')", "mm-pyreq", {"mm-pyreq": "1.0.0", **LIB_B}),
    ShapeCase("sdist-only", "pypi-json", "only an sdist: both must say no pure Python wheel",
              "mm-sdist", {}, error=r"Can't find a pure Python 3 wheel"),
]


def passes(case: ShapeCase, obs: dict) -> bool:
    """The run ended as a correct install ends (or in the case's error)."""
    if case.error:
        return obs["result"] == "error" and re.search(case.error, obs["error"]) is not None
    return obs["result"] == "ok" and not wrong_install(obs, case.versions)


def outcome(case: ShapeCase, obs: dict) -> str:
    """One line for the table and for assertion messages."""
    if passes(case, obs):
        if case.error:
            return f"clear error: {short(obs['error'], 70)}"
        return f"installed {case.requirement} OK ({obs['seconds']:.1f} s)"
    if obs["result"] == "ok":
        return f"**wrong: {wrong_install(obs, case.versions) or 'installed instead of an error'}**"
    return alone_cell(obs)


def counts(results: dict) -> dict:
    """plain-passes, shim-passes, shim-only, plain-only over ``results[case] = {alone, mirror, ...}``."""
    out = {"cases": 0, "plain-passes": 0, "shim-passes": 0, "shim-only": 0, "plain-only": 0}
    for row in results.values():
        plain, shim = row["plain_ok"], row["shim_ok"]
        out["cases"] += 1
        out["plain-passes"] += plain
        out["shim-passes"] += shim
        out["shim-only"] += shim and not plain
        out["plain-only"] += plain and not shim
    return out


def render_table(results: dict, pyodide_version: str, micropip_version: str) -> str:
    c = counts(results)
    lines = [
        f"Generated by tests/browser/test_differential.py in headless Chromium, Pyodide {pyodide_version} "
        f"(micropip {micropip_version}). Each row makes one index shape the only mirror and installs "
        "a package with dependencies, with micropip alone (`index_urls=[mirror]`) and with "
        "micropip-mirror (`enable([mirror], timeout=2)`, other options as the row says); a run passes only when every "
        "dependency imports at the right version (or, for `sdist-only`, in the error named).",
        "",
        f"Counts: {c['cases']} cases; micropip alone passes {c['plain-passes']}, micropip-mirror "
        f"passes {c['shim-passes']}; only micropip-mirror: {c['shim-only']}; only micropip alone: "
        f"{c['plain-only']}.",
        "",
        "| index shape | micropip alone | with micropip-mirror |",
        "|---|---|---|",
    ]
    for case in CASES:
        if case.name in results:
            row = results[case.name]
            lines.append(f"| `{case.name}`: {case.describe} | {row['plain']} | {row['shim']} |")
    return "\n".join(lines) + "\n"


def write_summary(results: dict, pyodide_version: str, micropip_version: str) -> Path:
    """test-artifacts/differential-<pyodide>.json (counts and every case) and .md; when
    every case ran on the newest Pyodide, also differential-table.md for the README."""
    from .stage_pyodide import DEFAULT_VERSION

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"differential-{pyodide_version}.json").write_text(json.dumps(
        {"pyodide": pyodide_version, "micropip": micropip_version, "counts": counts(results),
         "cases": results}, indent=1))
    table = render_table(results, pyodide_version, micropip_version)
    path = ARTIFACTS / f"differential-{pyodide_version}.md"
    path.write_text(table)
    if pyodide_version == DEFAULT_VERSION and all(c.name in results for c in CASES):
        TABLE_PATH.write_text(table)
        return TABLE_PATH
    return path
