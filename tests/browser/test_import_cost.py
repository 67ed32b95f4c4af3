"""What `import micropip_mirror` + `enable([...])` load in real Pyodide, and from where.
Pyodide writes no .pyc, so a module imported from source is compiled in the page each
time: code that many sessions never use is imported at first use (the lockfile, probe
and catalogue code; .metadata files are checked without the stdlib `email` package),
and the release wheel carries checked-hash .pycs for each supported Python
(tests/support/pycs.py), which the page reads instead of compiling, unless a source no
longer matches its pyc.  No timing: the modules and their origin only."""

from __future__ import annotations

import json

import pytest

IMPORT_AND_ENABLE = """
import importlib.machinery, importlib.metadata, json, os, sys, micropip
await micropip.install("micropip-mirror", index_urls=[{index!r}])
# A stale pyc: errors.py's docstring changed after the wheel was built, same size and
# same mtime (which a timestamp pyc would not notice); its pyc must not be used.
stale = str(importlib.metadata.distribution("micropip-mirror").locate_file("micropip_mirror/errors.py"))
data, st = open(stale, "rb").read(), os.stat(stale)
doc = data.split(b'\"""')[1]
with open(stale, "wb") as f:
    f.write(data.replace(doc, doc.swapcase(), 1))
os.utime(stale, ns=(st.st_atime_ns, st.st_mtime_ns))
compiled = []
loader = importlib.machinery.SourceFileLoader
original = loader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(os.path.basename(str(path)))
    return original(self, data, path, *args, **kwargs)
loader.source_to_code = source_to_code
before = set(sys.modules)
try:
    import micropip_mirror
    micropip_mirror.enable(["https://a.example/simple"])
finally:
    loader.source_to_code = original
loaded = sorted(set(sys.modules) - before)
ours = [m for m in loaded if m.startswith("micropip_mirror")]
json.dumps({{
    "loaded": loaded,
    "compiled": compiled,
    "tag": sys.implementation.cache_tag,
    "cached": {{m: os.path.basename(sys.modules[m].__cached__) for m in ours
                if os.path.exists(sys.modules[m].__cached__)}},
    "stale_doc": [sys.modules["micropip_mirror.errors"].__doc__, doc.swapcase().decode()],
}})
"""


@pytest.mark.core
def test_import_and_enable_load_only_the_request_path_from_pycs(selenium_standalone, package_index):
    seen = json.loads(selenium_standalone.run_async(IMPORT_AND_ENABLE.format(index=package_index)))
    loaded = seen["loaded"]
    ours = {m.split(".", 1)[1] for m in loaded if m.startswith("micropip_mirror.")}
    assert {"patch", "router", "normalize"} <= ours, loaded
    assert ours.isdisjoint({"lockfile", "probe", "catalogue", "jupyterlite"}), loaded
    assert not [m for m in loaded if m == "email" or m.startswith("email.")], loaded
    # Every module but the changed one came from its pyc for this Python; the changed
    # one was compiled from its current source.
    assert [c for c in seen["compiled"] if c.endswith(".py")] == ["errors.py"], seen
    assert seen["stale_doc"][0] == seen["stale_doc"][1], seen["stale_doc"]
    modules = {"micropip_mirror"} | {f"micropip_mirror.{m}" for m in ours}
    assert seen["cached"] == {m: f"{'__init__' if m == 'micropip_mirror' else m.split('.')[1]}.{seen['tag']}.pyc"
                              for m in modules}, seen
