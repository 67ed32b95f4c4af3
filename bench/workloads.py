"""What the scaling benchmarks install, and the big project pages they read.

Why generated: the suite's projects (tests/support/projects.py) are 18 packages;
the curves need 100 and 300, shaped like real dependency trees: a wide fan-out
(leaves that resolve in parallel) plus a deep chain (each link known only once
the one before it is resolved, so round trips add up).  One set of wheels serves
every size: ``mm-scale-<n>`` needs leaves 1..n/2 and the tail of one chain.

The big pages are PyPI-shaped: the real files of a project plus ``n`` entries
for other versions and platforms (sdists, manylinux/macOS/Windows wheels) with
the fields pypi.org sends (hashes, requires-python, core-metadata, size,
upload-time, yanked), about 500 bytes each in JSON, as on pypi.org.
"""

from __future__ import annotations

import hashlib
import json
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fleet import CACHE  # noqa: E402
from tests.support.projects import build_projects, normalize, wheel_bytes, wheel_filename  # noqa: E402

SIZES = (18, 100, 300)
CHAIN = 149  # mm-scale-chain-001 -> 002 -> ... -> 149
LEAVES = 150
VERSION = "1.0.0"


def leaf(i: int) -> str:
    return f"mm-scale-leaf-{i:03d}"


def link(i: int) -> str:
    return f"mm-scale-chain-{i:03d}"


def roots() -> dict[int, list[str]]:
    """``mm-scale-<n>``'s requirements: n/2 leaves and a chain tail, n packages in all."""
    out = {}
    for n in SIZES:
        leaves = (n - 1) // 2 + (n - 1) % 2  # 18 -> 9, 100 -> 50, 300 -> 150
        chain = n - 1 - leaves
        out[n] = [leaf(i) for i in range(1, leaves + 1)] + [link(CHAIN - chain + 1)]
    return out


def spec() -> dict[str, list[str]]:
    """Every scaling project (one version each) with its requirements."""
    projects = {leaf(i): [] for i in range(1, LEAVES + 1)}
    projects.update({link(i): [link(i + 1)] if i < CHAIN else [] for i in range(1, CHAIN + 1)})
    projects.update({f"mm-scale-{n}": reqs for n, reqs in roots().items()})
    return projects


def packages_installed(n: int) -> int:
    """How many packages ``mm-scale-<n>==1.0.0`` brings (itself included)."""
    todo, seen, table = [f"mm-scale-{n}"], set(), spec()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += table[name]
    return len(seen)


def build(dest: Path | None = None) -> Path:
    """The suite's projects plus the scaling ones, in one folder for a Fleet
    (its pypiserver and simple-repository-servers serve every folder there)."""
    dest = Path(dest or CACHE / "bench" / "projects")
    build_projects(dest)
    for name, requires in spec().items():
        folder = dest / normalize(name)
        target = folder / wheel_filename(name, VERSION)
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(wheel_bytes(name, VERSION, requires))
            tmp.replace(target)
    return dest


# --- PyPI-shaped padding for big project pages ------------------------------------------------

_PLATFORMS = ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp312-cp312-macosx_11_0_arm64",
              "cp312-cp312-win_amd64", "cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",
              "cp313-cp313-musllinux_1_2_x86_64")


def _hex(*parts) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def padding(project: str, n: int) -> list[dict]:
    """``n`` PEP 691 file entries of older versions and other platforms: files
    micropip can never choose for ``==<current>`` in Pyodide, like most of
    a popular project's page on pypi.org."""
    dist = normalize(project).replace("-", "_")
    out = []
    for i in range(n):
        version = f"0.{i // 6}.{i % 6}"
        kind = i % (len(_PLATFORMS) + 1)
        filename = (f"{dist}-{version}.tar.gz" if kind == len(_PLATFORMS)
                    else f"{dist}-{version}-{_PLATFORMS[kind]}.whl")
        digest = _hex(project, filename)
        entry = {"filename": filename,
                 "url": f"https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:60]}/{filename}",
                 "hashes": {"sha256": digest}, "requires-python": ">=3.9", "size": 100000 + i,
                 "upload-time": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T12:{i % 60:02d}:00.000000Z",
                 "yanked": False}
        if not filename.endswith(".tar.gz"):
            meta = {"sha256": _hex("meta", filename)}
            entry["core-metadata"] = entry["data-dist-info-metadata"] = meta
        out.append(entry)
    return out


def padding_html(project: str, n: int, entries: list[dict] | None = None) -> str:
    """The same entries (or ``entries``) as PEP 503 anchors, as pypi.org writes them."""
    rows = []
    for e in entries if entries is not None else padding(project, n):
        attrs = f' data-requires-python="{escape(e["requires-python"])}"'
        if "core-metadata" in e:
            meta = f'sha256={e["core-metadata"]["sha256"]}'
            attrs += f' data-dist-info-metadata="{meta}" data-core-metadata="{meta}"'
        rows.append(f'    <a href="{e["url"]}#sha256={e["hashes"]["sha256"]}"{attrs}>{e["filename"]}</a><br />\n')
    return "".join(rows)


if __name__ == "__main__":
    folder = build()
    print(folder, {n: packages_installed(n) for n in SIZES})
    print(len(json.dumps(padding("mm-lib-c", 5000))), "bytes of JSON padding for 5,000 files")
