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
import importlib.util
import json
import re
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
WHEEL_HINT = ("build its wheel (python -m build --wheel) and pass it: "
              "--MicropipMirrorAddon.wheel=PATH (relative to the lite dir), or install it with pip")


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
    if importlib.util.find_spec("pyodide_build") is None:
        return None
    # This interpreter's pyodide CLI, never one found on PATH: another Python's would write
    # .pyc of its version (and a wheel of another name) for a Pyodide that cannot load them.
    subprocess.run([sys.executable, "-m", "pyodide_cli", "py-compile", "--silent", str(wheel)], check=True)
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}-none-any"
    # {name}-{version}[-{build}]-{python tag}-{abi}-{platform}.whl, tags replaced by py-compile
    compiled = wheel.with_name(f"{wheel.name.rsplit('-', 3)[0]}-{tag}.whl")
    if not compiled.exists():  # py-compile removed the plain wheel: the entry must not point at it
        raise RuntimeError(f"pyodide py-compile of {wheel.name} did not write {compiled.name}")
    return compiled


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
    precompiled = wheel if _compiled_tag(wheel.name) else None
    if precompiled is not None:
        # Compiled already (pyodide py-compile): add_wheels_to_spec takes py3 tags only, so
        # the entry is made from a py3-named copy and pointed at the compiled wheel below.
        parts = wheel.name[:-4].split("-")
        wheel = lock_path.parent / ("-".join(parts[:-3] + ["py3", "none", "any"]) + ".whl")
        shutil.copyfile(precompiled, wheel)
    target = lock_path.parent / wheel.name
    if wheel.resolve() != target.resolve():
        shutil.copyfile(wheel, target)
    spec = add_wheels_to_spec(PyodideLockSpec.from_json(lock_path), [target], base_path=lock_path.parent)
    entry = spec.packages[canonical_name(wheel.name.split("-")[0])]
    if entry.name == DIST_NAME and "micropip" not in entry.depends:
        # Not a declared dependency (every Pyodide ships micropip), but enable() patches
        # it, so loading micropip-mirror from the lockfile must load micropip too.
        entry.depends.append("micropip")
    if precompiled is not None:
        want = "cp" + "".join(spec.info.python.split(".")[:2])
        if _compiled_tag(precompiled.name) != want:
            target.unlink(missing_ok=True)
            raise ValueError(f"{precompiled.name} is compiled for another Python than this "
                             f"Pyodide's {spec.info.python} ({want}): pass the plain wheel")
        placed = lock_path.parent / precompiled.name
        if precompiled.resolve() != placed.resolve():
            shutil.copyfile(precompiled, placed)
        compiled: Path | None = placed
    else:
        compiled = py_compile_for(target, spec.info.python) if py_compile else None
    if compiled is not None:
        # pyodide-lock takes only py3 tags in add_wheels_to_spec: point the entry at the
        # compiled wheel afterwards.
        target.unlink(missing_ok=True)  # py-compile removes it already
        entry.file_name = compiled.name
        update_package_sha256(entry, compiled)
    write_lockfile(spec, lock_path)
    return entry.to_dict()


def _compiled_tag(file_name: str) -> str | None:
    """The ``cpXY`` of a wheel compiled by ``pyodide py-compile`` (``…-cpXY-none-any.whl``)."""
    parts = file_name[:-4].split("-") if file_name.endswith(".whl") else []
    if len(parts) >= 5 and parts[-2:] == ["none", "any"] and re.fullmatch(r"cp\d+", parts[-3]):
        return parts[-3]
    return None


def merge_kernel_options(options: dict[str, Any] | None, mirrors: list[str]) -> dict[str, Any]:
    """``loadPyodideOptions`` with micropip-mirror added to what the site already has.

    ``packages`` gains micropip and micropip-mirror (unless already there under any
    spelling of the name), ``env`` gains ``MICROPIP_MIRROR_URLS`` (only when ``mirrors``
    has a non-blank entry: else ``enable()`` reads what the site set, or its defaults),
    ``args`` gains the startup line right after ``-`` (so it runs before the site's own
    ``exec_lines``).  Other keys and values are kept; a ``null`` counts as absent.
    Returns a new dict.
    """
    merged = dict(options or {})
    packages = _list_option(merged, "packages")
    present = {canonical_name(str(p)) for p in packages}
    merged["packages"] = packages + [p for p in ("micropip", DIST_NAME) if p not in present]
    mirrors = [m.strip() for m in mirrors if m.strip()]
    if mirrors:
        env = merged.get("env") or {}
        if not isinstance(env, dict):
            raise ValueError(f"loadPyodideOptions.env must be an object, got {env!r}")
        merged["env"] = {**env, "MICROPIP_MIRROR_URLS": ",".join(mirrors)}
    args = _list_option(merged, "args")
    if ENABLE_ARG not in args:
        # "-" ends Python's own options; what follows reaches IPython via sys.argv.
        if "-" not in args:
            args.append("-")
        args.insert(args.index("-") + 1, ENABLE_ARG)
    merged["args"] = args
    return merged


def _list_option(options: dict[str, Any], key: str) -> list[Any]:
    """A copy of a list-valued option; loadPyodide takes only a list (a string would be
    split into characters here), so anything else is the site's mistake, said plainly."""
    value = options.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"loadPyodideOptions.{key} must be a list, got {value!r}")
    return list(value)


def configure_jupyterlite_json(config_path: Path, mirrors: list[str]) -> dict[str, Any]:
    """Merge micropip-mirror's kernel options into a ``jupyter-lite.json`` (created if missing)."""
    config_path = Path(config_path)
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("jupyter-lite-schema-version", 0)
    data = config["jupyter-config-data"] = config.get("jupyter-config-data") or {}
    plugins = data["litePluginSettings"] = data.get("litePluginSettings") or {}
    kernel = plugins[KERNEL_PLUGIN] = plugins.get(KERNEL_PLUGIN) or {}
    kernel["loadPyodideOptions"] = merge_kernel_options(kernel.get("loadPyodideOptions"), mirrors)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return config


def wheel_from_installed(dest: Path) -> Path:
    """Pack the installed micropip-mirror (package and dist-info) back into its wheel.

    Why: a site built after ``pip install micropip-mirror[jupyterlite]`` needs the wheel
    itself, and pip keeps no copy of it.  Only the package's own files go in.
    """
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"{DIST_NAME} is importable but not installed (a source tree on the path?): "
                           f"{WHEEL_HINT}") from None
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
    if not any(name.startswith("micropip_mirror/") for name in files):
        # An editable install lists only its dist-info and a .pth: packed, that would be a
        # wheel without the package, and the site's `import micropip_mirror` would fail.
        raise RuntimeError(f"{DIST_NAME} {version} is installed without its package files "
                           f"(an editable install?): {WHEEL_HINT}")
    records = []
    Path(dest).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in files:
            data = Path(str(dist.locate_file(name))).read_bytes()
            zf.writestr(_fixed_time(name), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(_fixed_time(f"{info}/RECORD"), "\n".join(records) + "\n")
    return wheel


def _fixed_time(name: str) -> zipfile.ZipInfo:
    """A wheel member dated 1980-01-01, so the same installed files pack to the same bytes
    (and sha256) on every build; ``writestr(name)`` would stamp the current time."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def check_wheel(wheel: Path) -> Path:
    """The wheel a site is given, refused unless it is micropip-mirror's: another one would be
    added to the lockfile while the kernel asks for micropip-mirror, which it then lacks."""
    wheel = Path(wheel)
    if not (wheel.name.endswith(".whl") and canonical_name(wheel.name.split("-")[0]) == DIST_NAME):
        raise ValueError(f"{wheel} is not a {DIST_NAME} wheel (micropip_mirror-<version>-<tags>.whl)")
    return wheel


def configure_site(lite_dir: Path, wheel: Path, mirrors: list[str]) -> dict[str, Any]:
    """CLI: add the wheel to LITE_DIR/static/pyodide, merge the settings into LITE_DIR/jupyter-lite.json."""
    lite_dir = Path(lite_dir)
    wheel = check_wheel(wheel)
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
