"""Build time: make a JupyterLite site's Pyodide kernel start with micropip-mirror on.

Why this way: jupyterlite-pyodide-kernel hands its ``loadPyodideOptions`` setting
straight to ``loadPyodide()``.  So, with no network round trip and no kernel patch:

- ``packages``: the wheel sits in the site's self-hosted Pyodide and its lockfile,
  so Pyodide installs it while it boots, from the site itself;
- ``env``: ``MICROPIP_MIRROR_URLS`` carries the site's mirror list;
- ``args``: Pyodide puts them in ``sys.argv``, which the kernel's IPython app
  parses as configuration; its ``exec_lines`` run ``micropip_mirror.enable()``
  before the first cell, so ``%pip install`` and ``piplite.install`` use the mirrors.

The ``jupyter lite build`` addon (``jupyterlite_addon.py``) and this module's CLI
share these functions.  The CLI edits a lite dir's inputs before a build::

    python -m micropip_mirror.jupyterlite LITE_DIR WHEEL INDEX_URL [INDEX_URL ...]

Needs pyodide-lock[wheel] (the ``micropip-mirror[jupyterlite]`` extra); the runtime
package never imports this module.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from .mirrors import canonical_name

KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
ENABLE_LINE = "import micropip_mirror; micropip_mirror.enable()"
ENABLE_ARG = f"--InteractiveShellApp.exec_lines={ENABLE_LINE}"
DIST_NAME = "micropip-mirror"


def write_lockfile(spec: Any, lock_path: Path) -> None:
    """Write a pyodide-lock ``PyodideLockSpec``, keeping ``info.version``.

    pyodide-lock 0.2 leaves the field out (deprecated), but Pyodide 0.26 and 0.27
    refuse a lockfile without their own version ("Lock file version doesn't match").
    """
    data = spec.to_dict()
    if spec.info.version != "0.0.0":  # pyodide-lock's stand-in for "absent"
        data["info"]["version"] = spec.info.version
    Path(lock_path).write_text(json.dumps(data, indent=1, sort_keys=True))


def py_compile_for(wheel: Path, pyodide_python: str) -> Path | None:
    """``pyodide py-compile`` (pyodide-build) of ``wheel``, in place: the ``cpXY-none-any``
    wheel holding .pyc files only.  None when this Python's major.minor is not
    ``pyodide_python``'s (the .pyc would not load) or pyodide-build is not installed.

    Why: ``import micropip_mirror`` + ``enable()`` took a fifth of the time from the
    compiled wheel (bench/pycompile.py, figures in the README).
    """
    if pyodide_python.split(".")[:2] != [str(sys.version_info[0]), str(sys.version_info[1])]:
        return None
    pyodide = Path(sys.executable).parent / "pyodide"
    if not pyodide.exists():
        found = shutil.which("pyodide")
        if found is None:
            return None
        pyodide = Path(found)
    subprocess.run([str(pyodide), "py-compile", "--silent", str(wheel)], check=True)
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}-none-any"
    compiled = wheel.with_name(wheel.name.replace("py3-none-any", tag))
    return compiled if compiled.exists() else None


def add_wheel_to_lockfile(lock_path: Path, wheel: Path, py_compile: bool = False) -> dict[str, Any]:
    """Copy a pure-Python wheel next to ``lock_path`` and add (or replace) its entry.

    Next to it because Pyodide resolves a relative ``file_name`` against the folder of
    the lockfile it loaded (``packageBaseUrl``'s default), whichever lockfile that is.
    The entry comes from pyodide-lock (name, version, imports, sha256, depends from the
    wheel's metadata).  ``py_compile``: ship the wheel compiled for the lockfile's Python
    when this Python can (see ``py_compile_for``).  Returns the entry as a dict.
    """
    from pyodide_lock import PyodideLockSpec
    from pyodide_lock.utils import add_wheels_to_spec, update_package_sha256

    lock_path, wheel = Path(lock_path), Path(wheel)
    target = lock_path.parent / wheel.name
    if wheel.resolve() != target.resolve():
        shutil.copyfile(wheel, target)
    spec = add_wheels_to_spec(PyodideLockSpec.from_json(lock_path), [target], base_path=lock_path.parent)
    entry = spec.packages[canonical_name(wheel.name.split("-")[0])]
    if entry.name == DIST_NAME and "micropip" not in entry.depends:
        # Not a declared dependency (every Pyodide ships micropip), but enable() patches
        # it, so loading micropip-mirror from the lockfile must load micropip too.
        entry.depends.append("micropip")
    compiled = py_compile_for(target, spec.info.python) if py_compile else None
    if compiled is not None:
        # pyodide-lock takes only py3 tags in add_wheels_to_spec: point the entry at the
        # compiled wheel afterwards.
        target.unlink(missing_ok=True)  # py-compile removes it already
        entry.file_name = compiled.name
        update_package_sha256(entry, compiled)
    write_lockfile(spec, lock_path)
    return entry.to_dict()


def merge_kernel_options(options: dict[str, Any], mirrors: list[str]) -> dict[str, Any]:
    """``loadPyodideOptions`` with micropip-mirror added to what the site already has.

    ``packages`` gains micropip and micropip-mirror, ``env`` gains ``MICROPIP_MIRROR_URLS``
    (only when ``mirrors`` is given: else ``enable()`` reads what the site set, or its
    defaults), ``args`` gains the startup line right after ``-`` (so it runs before the
    site's own ``exec_lines``).  Other keys and values are kept.  Returns a new dict.
    """
    merged = dict(options)
    merged["packages"] = list(dict.fromkeys([*options.get("packages", []), "micropip", DIST_NAME]))
    if mirrors:
        merged["env"] = {**options.get("env", {}), "MICROPIP_MIRROR_URLS": ",".join(mirrors)}
    args = list(options.get("args", []))
    if ENABLE_ARG not in args:
        # "-" ends Python's own options; what follows reaches IPython via sys.argv.
        if "-" not in args:
            args.append("-")
        args.insert(args.index("-") + 1, ENABLE_ARG)
    merged["args"] = args
    return merged


def configure_jupyterlite_json(config_path: Path, mirrors: list[str]) -> dict[str, Any]:
    """Merge micropip-mirror's kernel options into a ``jupyter-lite.json`` (created if missing)."""
    config_path = Path(config_path)
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("jupyter-lite-schema-version", 0)
    plugins = config.setdefault("jupyter-config-data", {}).setdefault("litePluginSettings", {})
    kernel = plugins.setdefault(KERNEL_PLUGIN, {})
    kernel["loadPyodideOptions"] = merge_kernel_options(kernel.get("loadPyodideOptions", {}), mirrors)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return config


def wheel_from_installed(dest: Path) -> Path:
    """Pack the installed micropip-mirror (package and dist-info) back into its wheel.

    Why: a site built after ``pip install micropip-mirror[jupyterlite]`` needs the wheel
    itself, and pip keeps no copy of it.  Only the package's own files go in.
    """
    dist = importlib.metadata.distribution(DIST_NAME)
    version = dist.version
    tag = "py3-none-any"
    wheel = Path(dest) / f"micropip_mirror-{version}-{tag}.whl"
    info = f"micropip_mirror-{version}.dist-info"
    skip = {f"{info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    files = sorted(
        str(f) for f in dist.files or []
        if (str(f).startswith(("micropip_mirror/", info + "/")) and str(f) not in skip
            and "__pycache__" not in str(f))
    )
    if not files:
        raise RuntimeError(f"{DIST_NAME} {version} is installed without its files (an editable install?)")
    records = []
    Path(dest).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in files:
            data = Path(str(dist.locate_file(name))).read_bytes()
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel


def configure_site(lite_dir: Path, wheel: Path, mirrors: list[str]) -> dict[str, Any]:
    """CLI: add the wheel to LITE_DIR/static/pyodide, merge the settings into LITE_DIR/jupyter-lite.json."""
    lite_dir = Path(lite_dir)
    add_wheel_to_lockfile(lite_dir / "static" / "pyodide" / "pyodide-lock.json", wheel)
    return configure_jupyterlite_json(lite_dir / "jupyter-lite.json", mirrors)


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
