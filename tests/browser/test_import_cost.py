"""What `import micropip_mirror` + `enable([...])` load in real Pyodide. Every module
is compiled from source there (no .pyc is written), so code that many sessions never
use is imported at first use: the lockfile, probe and catalogue code, and the stdlib
`email` package (only for checking a .metadata file). No timing: the modules only."""

from __future__ import annotations

import json


def test_import_and_enable_load_only_the_request_path(selenium_standalone, package_index):
    selenium = selenium_standalone
    loaded = json.loads(selenium.run_async(f"""
import json, sys, micropip
await micropip.install("micropip-mirror", index_urls=[{package_index!r}])
before = set(sys.modules)
import micropip_mirror
micropip_mirror.enable(["https://a.example/simple"])
json.dumps(sorted(set(sys.modules) - before))
"""))
    ours = {m.split(".", 1)[1] for m in loaded if m.startswith("micropip_mirror.")}
    assert {"patch", "router", "normalize"} <= ours, loaded
    assert ours.isdisjoint({"lockfile", "probe", "catalogue", "jupyterlite"}), loaded
    assert not [m for m in loaded if m == "email" or m.startswith("email.")], loaded
