"""Build-time helper: make a JupyterLite site's Pyodide kernel start with micropip-mirror on.

Why this way: jupyterlite-pyodide-kernel hands its ``loadPyodideOptions`` setting
straight to ``loadPyodide()``.  So, with no network round trip and no kernel patch:

- ``packages``: the wheel sits in the site's self-hosted Pyodide and its
  ``pyodide-lock.json``, so Pyodide installs it while it boots, from the site itself;
- ``env``: ``MICROPIP_MIRROR_URLS`` carries the site's mirror list;
- ``args``: Pyodide puts them in ``sys.argv``, which the kernel's IPython app
  parses as configuration; its ``exec_lines`` run ``micropip_mirror.enable()``
  before the first cell, so ``%pip install`` and ``piplite.install`` use the mirrors.

Run before ``jupyter lite build`` (stdlib only; the runtime package never imports it)::

    python -m micropip_mirror.jupyterlite LITE_DIR WHEEL INDEX_URL [INDEX_URL ...]

LITE_DIR must hold the Pyodide distribution in ``static/pyodide/`` (where the
``jupyter lite build`` Pyodide addon looks for a self-hosted one).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

from .mirrors import canonical_name

KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
ENABLE_LINE = "import micropip_mirror; micropip_mirror.enable()"


def add_wheel_to_lockfile(pyodide_dir: Path, wheel: Path) -> dict:
    """Copy a pure-Python wheel next to pyodide-lock.json and add (or replace) its entry."""
    pyodide_dir, wheel = Path(pyodide_dir), Path(wheel)
    lock_path = pyodide_dir / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    dist, version = wheel.name.split("-")[:2]
    name = canonical_name(dist)
    with zipfile.ZipFile(wheel) as zf:
        imports = sorted({p.split("/")[0] for p in zf.namelist() if "/" in p and ".dist-info/" not in p})
    old = lock["packages"].get(name, {})
    entry = {
        "name": name,
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "package_type": "package",
        "imports": old.get("imports", imports),
        "depends": old.get("depends", ["micropip"] if name == "micropip-mirror" else []),
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "unvendored_tests": False,
    }
    lock["packages"][name] = {**old, **entry}
    if wheel.resolve() != (pyodide_dir / wheel.name).resolve():
        shutil.copyfile(wheel, pyodide_dir / wheel.name)
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True))
    return lock["packages"][name]


def kernel_settings(mirrors: list[str]) -> dict:
    """The ``loadPyodideOptions`` that preload and enable micropip-mirror."""
    return {
        "packages": ["micropip", "micropip-mirror"],
        "env": {"MICROPIP_MIRROR_URLS": ",".join(mirrors)},
        # "-" ends Python's own options; the rest reaches IPython via sys.argv.
        "args": ["-", f"--InteractiveShellApp.exec_lines={ENABLE_LINE}"],
    }


def configure_site(lite_dir: Path, wheel: Path, mirrors: list[str]) -> dict:
    """Add the wheel to LITE_DIR/static/pyodide and the settings to LITE_DIR/jupyter-lite.json."""
    lite_dir = Path(lite_dir)
    add_wheel_to_lockfile(lite_dir / "static" / "pyodide", wheel)
    config_path = lite_dir / "jupyter-lite.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("jupyter-lite-schema-version", 0)
    plugins = config.setdefault("jupyter-config-data", {}).setdefault("litePluginSettings", {})
    kernel = plugins.setdefault(KERNEL_PLUGIN, {})
    options = kernel.setdefault("loadPyodideOptions", {})
    settings = kernel_settings(mirrors)
    options["packages"] = list(dict.fromkeys([*options.get("packages", []), *settings["packages"]]))
    options["env"] = {**options.get("env", {}), **settings["env"]}
    options["args"] = settings["args"]
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return config


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    lite_dir, wheel, *mirrors = args
    print(json.dumps(configure_site(Path(lite_dir), Path(wheel), mirrors), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
