"""Whole installs with dependencies (app -> lib -> leaf) through the real micropip of
this venv (0.6, 0.9 or 0.11), from a mirror shaped like the real ones: no PEP 658
files, `false` metadata flags, metadata that 404s or does not match, hashes only
in fragments, yanked newest versions. micropip-mirror must install the same tree
plain micropip would (and the right one where plain micropip gets it wrong)."""

import asyncio
import json

import micropip
import pytest

import micropip_mirror
from micropip_mirror import Mirror
from micropip_mirror.adapters import adapter_for

from .fakes import Scripted, page, sha, wheel
from .test_micropip_patch import compat, transaction

M = Mirror("https://m.example/simple", name="m")
N = Mirror("https://n.example/simple", name="n")
TREE = {"app": ("lib",), "lib": ("leaf",), "leaf": ()}
VERSIONS = ("1.0.0", "2.0.0")


def metadata(name: str, version: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    return "\n".join(lines + [f"Requires-Dist: {dep}" for dep in TREE[name]]) + "\n"


def tree_wheel(name: str, version: str) -> bytes:
    return wheel(name=name, version=version, metadata=metadata(name, version))


def whl(name, version):
    return f"{name}-{version}-py3-none-any.whl"


def serve(mirror: Mirror, shape: str, *, yanked_newest=False, host="files.example") -> dict:
    """Routes for every project of TREE on ``mirror``, in one of the real shapes."""
    routes = {}
    for name in TREE:
        files = []
        for version in VERSIONS:
            data = tree_wheel(name, version)
            url = f"https://{host}/{mirror.name}/{whl(name, version)}"
            routes[url] = data
            meta = metadata(name, version).encode()
            entry = {"filename": whl(name, version), "url": url, "hashes": {"sha256": sha(data)},
                     "yanked": yanked_newest and version == VERSIONS[-1]}
            if shape == "pypi-false":  # PyPI's own way of saying "no metadata"
                entry["core-metadata"] = entry["data-dist-info-metadata"] = False
            elif shape == "metadata-404":  # announced, then not there
                entry["core-metadata"] = True
            elif shape == "metadata-wrong-hash":
                entry["core-metadata"] = {"sha256": "0" * 64}
                routes[url + ".metadata"] = meta
            elif shape == "metadata-ok":
                entry["core-metadata"] = {"sha256": sha(meta)}
                routes[url + ".metadata"] = meta
            elif shape == "fragment-only":
                entry["url"] += "#sha256=" + entry["hashes"].pop("sha256")
            elif shape == "metadata-garbage":  # announced without hash, serves the wheel
                entry["core-metadata"] = True
                routes[url + ".metadata"] = data
            elif shape == "metadata-mixup":  # another project's metadata, its hash announced
                other = b"Metadata-Version: 2.1\nName: other\nVersion: 9.0\n"
                entry["core-metadata"] = {"sha256": sha(other)}
                routes[url + ".metadata"] = other
            files.append(entry)
        project_url = mirror.project_url(name)
        if shape == "html":  # Aliyun/Tencent: HTML, relative links, hash in the fragment
            links = "".join(
                f'<a href="../../../{host}/{f["filename"]}#sha256={f["hashes"]["sha256"]}">'
                f'{f["filename"]}</a><br/>' for f in files)
            body = f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
            routes[project_url] = page(project_url, body, "text/html")
            for f in files:  # the relative links resolve onto the mirror's own host
                routes[f"https://m.example/{host}/{f['filename']}"] = routes[f["url"]]
        else:
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files})
            routes[project_url] = page(project_url, body.encode())
    return routes


def tree_transaction():
    """A micropip Transaction that resolves dependencies."""
    fields = dict(ctx={"extra": "", "python_version": "3.12"}, ctx_extras=[], keep_going=False,
                  deps=True, pre=False, fetch_kwargs={}, index_urls=["https://pypi.org/simple"])
    if "_compat_layer" in transaction.Transaction.__dataclass_fields__:
        fields["_compat_layer"] = compat()
    return transaction.Transaction(**fields)


def with_every_leaf_file(routes: dict, key: str, value) -> dict:
    """``routes`` with ``key`` set to ``value`` on every file of leaf's page."""
    body = json.loads(routes[M.project_url("leaf")].body)
    for f in body["files"]:
        f[key] = value
    routes[M.project_url("leaf")] = page(M.project_url("leaf"), json.dumps(body).encode())
    return routes


def install(requirement: str, transport: Scripted, mirrors=(M,)) -> dict[str, str]:
    """Resolve ``requirement`` with dependencies; name -> version of what micropip picked."""
    txn = tree_transaction()
    micropip_mirror.enable(list(mirrors), transport=transport, hedge_after=None, timeout=2)
    try:
        asyncio.run(txn.add_requirement(requirement))
    finally:
        micropip_mirror.disable()
    for w in txn.wheels:  # every wheel micropip will install was really downloaded
        assert w._data is not None
    return {w.name: str(w.version) for w in txn.wheels}


ALL_NEW = {"app": "2.0.0", "lib": "2.0.0", "leaf": "2.0.0"}
SHAPES = ["pypi-false", "metadata-404", "metadata-wrong-hash", "metadata-ok", "fragment-only",
          "metadata-garbage", "metadata-mixup", "html"]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_whole_tree_installs_from_each_real_shape(shape):
    t = Scripted(serve(M, shape))
    assert install("app", t) == ALL_NEW


def test_without_metadata_each_wheel_is_downloaded_once():
    """The .metadata fallback reads the wheel micropip downloads anyway."""
    t = Scripted(serve(M, "metadata-404"))
    install("app", t)
    wheels = [u for u in t.asked if u.endswith(".whl")]
    assert sorted(wheels) == sorted(set(wheels)) and len(wheels) == 3


def test_metadata_that_fails_everywhere_is_read_from_the_wheel_and_reported():
    t = Scripted(serve(M, "metadata-wrong-hash"))
    install("app", t)
    records = [r for r in micropip_mirror.report(file=None) if r.target.endswith(".metadata")]
    generation = adapter_for(micropip).generation
    if generation == "0.6":  # micropip 0.6 never asks for PEP 658 files
        assert records == []
        return
    last = records[-1]
    assert last.served_by == "wheel"
    assert "sha256 mismatch" in last.attempts[0].reason
    assert last.attempts[-1].reason == "METADATA read from the verified wheel"


def test_a_tampered_wheel_without_hash_is_refused_and_the_next_mirror_serves():
    routes = serve(M, "fragment-only")
    routes.update(serve(N, "metadata-ok", host="files-n.example"))
    for url in [u for u in routes if u.startswith("https://files.example/m/leaf-2.0.0")]:
        routes[url] = b"<html>not a wheel</html>"
    bad = json.loads(routes[M.project_url("leaf")].body)
    for f in bad["files"]:
        f["url"] = f["url"].split("#")[0]  # no hash anywhere on m
    routes[M.project_url("leaf")] = page(M.project_url("leaf"), json.dumps(bad).encode())
    t = Scripted(routes)
    assert install("app", t, mirrors=(M, N)) == ALL_NEW
    leaf = [r for r in micropip_mirror.report(file=None) if r.target == "leaf-2.0.0-py3-none-any.whl"][-1]
    assert leaf.served_by == "n"
    assert "unverified and invalid" in leaf.attempts[0].reason


def test_yanked_newest_is_passed_over_unless_pinned():
    """PEP 592 on every generation: micropip 0.10+ does it itself, we do it for 0.6-0.9."""
    t = Scripted(serve(M, "metadata-ok", yanked_newest=True))
    assert install("app", t) == {"app": "1.0.0", "lib": "1.0.0", "leaf": "1.0.0"}
    t = Scripted(serve(M, "metadata-ok", yanked_newest=True))
    assert install("app==2.0.0", t)["app"] == "2.0.0"


def test_files_for_another_python_are_passed_over():
    """Requires-Python (PEP 345/503) that excludes the running Python: pip skips such
    files; micropip does not look, so micropip-mirror leaves them out."""
    routes = serve(M, "metadata-ok")
    for name in TREE:
        data = json.loads(routes[M.project_url(name)].body)
        data["files"][-1]["requires-python"] = ">=4"  # the newest needs Python 4
        data["files"][0]["requires-python"] = "not a specifier"  # ignored, as pip does
        routes[M.project_url(name)] = page(M.project_url(name), json.dumps(data).encode())
    assert install("app", Scripted(routes)) == {"app": "1.0.0", "lib": "1.0.0", "leaf": "1.0.0"}


def test_a_dependency_whose_every_file_excludes_this_python_installs_as_plain_micropip_does():
    """Stale upper bounds (``requires-python = "<3.13"``) are common; Pyodide 314 runs
    Python 3.14. Plain micropip ignores requires-python and installs leaf 2.0.0; so
    must we: files for another Python are hidden only while another version fits."""
    routes = with_every_leaf_file(serve(M, "metadata-ok"), "requires-python", "<3.0")
    assert install("app", Scripted(routes))["leaf"] == "2.0.0"
