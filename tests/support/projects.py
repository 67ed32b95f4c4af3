"""Test projects: tiny real wheels (py3-none-any) built straight with zipfile.

Why zipfile and not setuptools: building ~40 wheels must cost well under a second,
and byte-identical output (fixed timestamps, seeded random data) keeps every
sha256 stable between runs so caches and expectations stay valid.

Layout written: ``dest/<normalized-name>/<wheel>``, which is what
simple-repository-server serves (one folder per project).  pypiserver accepts
the same tree.

Every module records its identity (``NAME``, ``__version__``, ``GENUINE``) so a
test can tell which wheel really got imported; ``make_tampered`` writes a copy
with the same file name but ``GENUINE = False``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import random
import re
import tarfile
import zipfile
from pathlib import Path

# Fixed zip timestamp: same bytes, same sha256, every run.
_DATE = (2020, 1, 1, 0, 0, 0)
BIG_SIZE = 1024 * 1024  # mm-big carries ~1 MiB of incompressible data

LEAVES = [f"mm-leaf-{i:02d}" for i in range(1, 13)]

# name -> {version: [requirements]}.  Every project has at least two versions so
# that a stale mirror (which hides the newest) still lists something.
SPEC: dict[str, dict[str, list[str]]] = {
    "mm-app": {"1.0.0": ["mm-lib-a"], "1.1.0": ["mm-lib-a"], "2.0.0": ["mm-lib-a"]},
    "mm-lib-a": {"1.0.0": ["mm-lib-b"], "1.1.0": ["mm-lib-b"], "2.0.0": ["mm-lib-b"]},
    "mm-lib-b": {"1.0.0": ["mm-lib-c"], "1.1.0": ["mm-lib-c"], "2.0.0": ["mm-lib-c"]},
    "mm-lib-c": {"1.0.0": [], "1.1.0": [], "2.0.0": []},
    "mm-wide": {"1.0.0": list(LEAVES), "2.0.0": list(LEAVES)},
    "mm-big": {"1.0.0": [], "2.0.0": []},
    **{leaf: {"1.0.0": [], "1.1.0": []} for leaf in LEAVES},
}

# Projects with the version and file shapes real indexes have (tests/support/shaped_index.py
# serves them; built into a folder of their own so the main tree stays byte-identical).
# Each depends on mm-lib-b (-> mm-lib-c), so every install also resolves dependencies.
SHAPE_SPEC: dict[str, dict[str, list[str]]] = {
    "mm-local": {"1.0.0": ["mm-lib-b"], "2.0.0+cpu": ["mm-lib-b"]},  # '+' is '%2B' in URLs
    "mm-epoch": {"3.0.0": ["mm-lib-b"], "1!2.0.0": ["mm-lib-b"]},  # '!' is '%21'; 1!2.0.0 is newest
    "mm-yanked": {"1.0.0": ["mm-lib-b"], "2.0.0": ["mm-lib-b"]},  # 2.0.0 yanked (PEP 592)
    "mm-yanked-bare": {"1.0.0": ["mm-lib-b"], "2.0.0": ["mm-lib-b"]},  # 2.0.0 yanked, no reason
    "mm-pyreq": {"1.0.0": ["mm-lib-b"], "2.0.0": ["mm-lib-b"]},  # 2.0.0 needs Python >= 4
    "mm-sdist": {"1.0.0": []},  # only an sdist: no wheel for any installer in Pyodide
}
# Per-file attributes an index lists (and the wheel's own METADATA agrees with).
SHAPE_ATTRS: dict[tuple[str, str], dict] = {
    ("mm-yanked", "2.0.0"): {"yanked": "broken release"},
    ("mm-yanked-bare", "2.0.0"): {"yanked": True},  # JSON true, HTML data-yanked=""
    ("mm-pyreq", "2.0.0"): {"requires_python": ">=4"},
}
SDIST_ONLY = {"mm-sdist"}

# Bump when the wheel contents change, so cached builds are redone.
_FORMAT = 1


def normalize(name: str) -> str:
    """PEP 503 normalized project name (folder and index name)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(name: str) -> str:
    """Wheel file name component / import name (``mm-lib-a`` -> ``mm_lib_a``)."""
    return normalize(name).replace("-", "_")


def wheel_filename(name: str, version: str) -> str:
    return f"{dist_name(name)}-{version}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def metadata_text(name: str, version: str, requires: list[str], requires_python: str = ">=3.8") -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: micropip-mirror test project {name} {version}",
        f"Requires-Python: {requires_python}",
    ]
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def requires_python_of(name: str, version: str) -> str:
    return SHAPE_ATTRS.get((normalize(name), version), {}).get("requires_python", ">=3.8")


def wheel_bytes(name: str, version: str, requires: list[str], genuine: bool = True) -> bytes:
    """The complete .whl file (deterministic for the same arguments)."""
    mod = dist_name(name)
    info = f"{mod}-{version}.dist-info"
    init = (
        f'"""micropip-mirror test project {name}."""\n'
        f"NAME = {name!r}\n"
        f"__version__ = {version!r}\n"
        f"GENUINE = {genuine!r}\n"
        f"REQUIRES = {requires!r}\n"
    ).encode()
    files: list[tuple[str, bytes]] = [(f"{mod}/__init__.py", init)]
    if normalize(name) == "mm-big":
        seed = f"{name}-{version}"  # tampered copy keeps the data; __init__ differs
        files.append((f"{mod}/data.bin", random.Random(seed).randbytes(BIG_SIZE)))
    meta = metadata_text(name, version, requires, requires_python_of(name, version))
    files.append((f"{info}/METADATA", meta.encode()))
    files.append(
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: micropip-mirror-tests\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    files.append((f"{info}/top_level.txt", f"{mod}\n".encode()))
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files)
    record += f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files:
            zi = zipfile.ZipInfo(path, date_time=_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)
    return buf.getvalue()


def sdist_filename(name: str, version: str) -> str:
    return f"{dist_name(name)}-{version}.tar.gz"


def sdist_bytes(name: str, version: str, requires: list[str]) -> bytes:
    """A minimal sdist (PKG-INFO + pyproject.toml), byte-identical every run (mtime 0)."""
    root = f"{dist_name(name)}-{version}"
    members = {
        f"{root}/PKG-INFO": metadata_text(name, version, requires).encode(),
        f"{root}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n'.encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def file_of(name: str, version: str) -> str:
    """The one distribution file a (name, version) of SPEC or SHAPE_SPEC has."""
    return sdist_filename(name, version) if normalize(name) in SDIST_ONLY else wheel_filename(name, version)


def _describe(dest: Path, spec: dict | None = None) -> dict:
    """What is on disk: {name: {version: {filename, path, sha256, size, requires, ...}}}."""
    out: dict = {}
    for name, versions in (spec or SPEC).items():
        for version, requires in versions.items():
            path = dest / normalize(name) / file_of(name, version)
            data = path.read_bytes()
            out.setdefault(name, {})[version] = {
                "name": name,
                "version": version,
                "filename": path.name,
                "path": str(path),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "requires": list(requires),
                "requires_python": requires_python_of(name, version),
                "yanked": SHAPE_ATTRS.get((normalize(name), version), {}).get("yanked", False),
            }
    return out


def _build(dest: Path, genuine: bool, spec: dict | None = None) -> dict:
    dest = Path(dest)
    spec = spec or SPEC
    stamp = dest / ".mm-spec.json"
    key = {"format": _FORMAT, "spec": spec, "big": BIG_SIZE, "genuine": genuine}
    if spec is not SPEC:
        key["attrs"] = {f"{n} {v}": a for (n, v), a in SHAPE_ATTRS.items()}
    spec_key = json.dumps(key, sort_keys=True)
    if stamp.exists() and stamp.read_text() == spec_key:
        try:
            return _describe(dest, spec)
        except FileNotFoundError:
            pass  # someone removed files: rebuild
    for name, versions in spec.items():
        folder = dest / normalize(name)
        folder.mkdir(parents=True, exist_ok=True)
        for version, requires in versions.items():
            target = folder / file_of(name, version)
            tmp = target.with_name(target.name + ".tmp")
            if normalize(name) in SDIST_ONLY:
                tmp.write_bytes(sdist_bytes(name, version, requires))
            else:
                tmp.write_bytes(wheel_bytes(name, version, requires, genuine=genuine))
            tmp.replace(target)  # atomic: a parallel run never sees half a wheel
    stamp.write_text(spec_key)
    return _describe(dest, spec)


def build_projects(dest: Path) -> dict:
    """Build every genuine test wheel into ``dest/<name>/`` (skipped if already built).

    Returns ``{name: {version: {"name", "version", "filename", "path", "sha256",
    "size", "requires"}}}``.
    """
    return _build(dest, genuine=True)


def build_shape_projects(dest: Path) -> dict:
    """Build SHAPE_SPEC (local version, epoch, yanked, requires-python, sdist-only) into
    ``dest/<name>/``; same return shape as ``build_projects`` plus ``requires_python``
    and ``yanked`` (False or the reason)."""
    return _build(dest, genuine=True, spec=SHAPE_SPEC)


def build_tampered(dest: Path) -> dict:
    """Tampered copies of every wheel (same names, ``GENUINE = False``) in ``dest/<name>/``.

    Same return shape as ``build_projects``; use a different ``dest``.
    """
    return _build(dest, genuine=False)


def make_tampered(name: str, version: str, dest_dir: Path) -> Path:
    """Write one tampered wheel into ``dest_dir``: same file name, ``GENUINE = False``.

    The tampered wheel is internally consistent (valid RECORD), so only a sha256
    check against the genuine hash can catch it.
    """
    name = normalize(name)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / wheel_filename(name, version)
    target.write_bytes(wheel_bytes(name, version, SPEC[name][version], genuine=False))
    return target


if __name__ == "__main__":
    import sys

    built = build_projects(Path(sys.argv[1] if len(sys.argv) > 1 else "projects"))
    print(json.dumps({n: {v: i["sha256"][:12] for v, i in vs.items()} for n, vs in built.items()}, indent=1))
