"""Put checked-hash .pyc files for every Python that supported Pyodide releases run into
the micropip_mirror wheel, next to the sources (`micropip_mirror/__pycache__/
<module>.cpython-3XY.pyc`).

Why: Pyodide compiles every imported .py in the page and writes no .pyc, and compiling
our sources was most of `import micropip_mirror` + `enable()` (README.md, "Compiled
code in the wheel").  The wheel stays `py3-none-any`: a Python without a matching pyc
compiles the source as before, and a checked-hash pyc (PEP 552) is used only while the
source's hash matches, so the source stays authoritative.

Each pyc is compiled inside the Pyodide release itself (Node.js + the `pyodide` npm
package, nothing else), so its magic number is the runtime's own: there is no host
Python 3.14, and a host 3.12/3.13 would match only by luck.  Cached by the sources'
hash.  Build-time modules (the JupyterLite helper and addon never run in Pyodide) get
none: each Python's pycs add ~100 kB to the wheel.

    python -m tests.support.pycs dist/micropip_mirror-*.whl     # adds them in place
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tests.support import stage_pyodide

PACKAGE = "micropip_mirror"
BUILD_TIME_ONLY = {"jupyterlite.py", "jupyterlite_addon.py"}
# One release per Python minor among the supported ones (0.26/0.27: 3.12, 0.28/0.29: 3.13, 314: 3.14).
COMPILERS = ["0.26.4", "0.29.3", "314.0.7"]

# Node: boot the staged Pyodide, py_compile the sources in its file system, print the pycs.
_NODE = r"""
const [dist, payload] = process.argv.slice(2);
const { loadPyodide } = await import(require("url").pathToFileURL(dist + "/pyodide.mjs"));
const py = await loadPyodide({ indexURL: dist + "/" });
py.globals.set("payload", require("fs").readFileSync(payload, "utf8"));
console.log(py.runPython(`
import base64, importlib.util, json, os, py_compile, sys
sources = json.loads(payload)
out = {"tag": sys.implementation.cache_tag, "magic": importlib.util.MAGIC_NUMBER.hex(), "pycs": {}}
for name, data in sources.items():
    path = "/mm-src/" + name
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))  # the exact bytes: a checked-hash pyc holds their hash
    pyc = py_compile.compile(path, dfile=name, doraise=True,
                             invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    out["pycs"][name] = base64.b64encode(open(pyc, "rb").read()).decode()
json.dumps(out)
`));
"""


def compile_in_pyodide(version: str, sources: dict[str, bytes]) -> dict:
    """{"tag", "magic", "pycs": {source name: pyc bytes}} compiled by Pyodide ``version``."""
    encoded = {n: base64.b64encode(d).decode() for n, d in sorted(sources.items())}
    key = hashlib.sha256(json.dumps(encoded).encode()).hexdigest()[:16]
    cached = stage_pyodide.CACHE / "pycs" / f"{version}-{key}.json"
    if not cached.exists():
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(stage_pyodide.npm_tarball(version)) as tar:
                tar.extractall(tmp, filter="data")
            dist = Path(tmp) / "package"
            payload = Path(tmp) / "sources.json"
            payload.write_text(json.dumps(encoded))
            script = Path(tmp) / "compile.cjs"
            script.write_text("(async () => {" + _NODE + "})().catch(e => { console.error(e); process.exit(1); });")
            done = subprocess.run(["node", str(script), str(dist), str(payload)], check=True,
                                  stdout=subprocess.PIPE, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")  # parallel runs share the cache
        partial.write_text(json.dumps(result))
        os.replace(partial, cached)
    result = json.loads(cached.read_text())
    result["pycs"] = {k: base64.b64decode(v) for k, v in result["pycs"].items()}
    return result


def pyc_name(source: str, tag: str) -> str:
    """micropip_mirror/router.py -> micropip_mirror/__pycache__/router.cpython-314.pyc"""
    folder, _, file = source.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc"


def add_pycs(wheel: Path, versions: list[str] = COMPILERS) -> Path:
    """Rewrite ``wheel`` in place with every package source's pycs added (and listed
    in RECORD); a wheel that has them already is left as it is."""
    with zipfile.ZipFile(wheel) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    if any("/__pycache__/" in name for name in files):
        return wheel
    sources = {n: d for n, d in files.items()
               if n.startswith(PACKAGE + "/") and n.endswith(".py") and n.rpartition("/")[2] not in BUILD_TIME_ONLY}
    added = {}
    for version in versions:
        compiled = compile_in_pyodide(version, sources)
        added.update({pyc_name(n, compiled["tag"]): data for n, data in compiled["pycs"].items()})
    record_name = next(n for n in files if n.endswith(".dist-info/RECORD"))
    rows = [r for r in csv.reader(io.StringIO(files.pop(record_name).decode())) if r and r[0] != record_name]
    for name, data in sorted(added.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append([name, f"sha256={digest}", str(len(data))])
    rows.append([record_name, "", ""])
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    ordered = [(n, d) for n, d in files.items() if ".dist-info/" not in n] + sorted(added.items()) + \
              [(n, d) for n, d in files.items() if ".dist-info/" in n] + [(record_name, record.getvalue().encode())]
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ordered:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    tmp.replace(wheel)
    return wheel


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(add_pycs(Path(arg)))
