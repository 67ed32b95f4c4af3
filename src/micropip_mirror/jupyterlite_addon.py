"""``jupyter lite build`` addon: the site's Pyodide kernel starts with micropip-mirror on.

Registered in the ``jupyterlite.addon.v0`` entry point group (pyproject.toml), so
jupyterlite-core imports it at build time; Pyodide never does (it needs
jupyterlite-core and pyodide-lock: ``pip install micropip-mirror[jupyterlite]``).
Configure it in ``jupyter_lite_config.json``::

    {"MicropipMirrorAddon": {"mirrors": ["https://<worker>/pypi/simple", "https://pypi.org/simple"]}}

or on the command line: ``--MicropipMirrorAddon.mirrors=URL`` (repeatable), or the
aliases ``--micropip-mirror-urls`` and ``--micropip-mirror-wheel``.

In ``post_build`` it adds the wheel to the lockfile the kernel will load (the one the
kernel's own lock addon wrote when ``--pyodide-lock`` is on, else the self-hosted
Pyodide's), then merges its ``loadPyodideOptions`` into the output ``jupyter-lite.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from jupyterlite_core.addons.base import BaseAddon
from jupyterlite_core.constants import JUPYTERLITE_JSON
from traitlets import Bool, List, Unicode

from . import jupyterlite as site

LOCK = "pyodide-lock.json"


class MicropipMirrorAddon(BaseAddon):
    """Put micropip-mirror into the site's Pyodide and enable it at kernel start."""

    __all__ = ["status", "post_build"]

    aliases = {
        "micropip-mirror-urls": "MicropipMirrorAddon.mirrors",
        "micropip-mirror-wheel": "MicropipMirrorAddon.wheel",
    }

    enabled = Bool(True, help="add micropip-mirror to the site's Pyodide kernel").tag(config=True)
    mirrors = List(
        Unicode(),
        help="index URLs tried in order (MICROPIP_MIRROR_URLS); empty: enable() uses its defaults",
    ).tag(config=True)
    py_compile = Bool(
        True,
        help="ship the wheel compiled to .pyc (pyodide py-compile) when this Python is the site's Pyodide's",
    ).tag(config=True)
    wheel = Unicode(
        "",
        help="micropip-mirror wheel, relative to lite_dir; empty: packed from the installed micropip-mirror",
    ).tag(config=True)

    @property
    def lock_addon(self) -> Any:
        return self.manager._addons.get("jupyterlite-pyodide-kernel-lock")

    @property
    def output_lock(self) -> Path:
        """The lockfile the kernel loads: the lock addon's when it is on, else the self-hosted one's."""
        lock = self.lock_addon
        if lock is not None and lock.enabled:
            return Path(lock.output_lock)
        return Path(self.manager.output_dir) / "static" / "pyodide" / LOCK

    @property
    def work_dir(self) -> Path:
        return Path(self.manager.cache_dir) / "micropip-mirror"

    def status(self, manager: Any) -> Iterator[dict[str, Any]]:
        yield self.task(
            name="micropip-mirror",
            actions=[lambda: print(f"    mirrors: {self.mirrors or '(enable() defaults)'}\n"
                                   f"    wheel:   {self.wheel or '(from the installed package)'}\n"
                                   f"    lock:    {self.output_lock}")],
        )

    @property
    def self_hosted(self) -> bool:
        """Whether the build puts a Pyodide (or the lock addon's lockfile) into the site."""
        pyodide = self.manager._addons.get("jupyterlite-pyodide-kernel-pyodide")
        lock = self.lock_addon
        return bool((lock is not None and lock.enabled)
                    or (pyodide is not None and (pyodide.pyodide_url or pyodide.well_known_pyodide.exists())))

    def post_build(self, manager: Any) -> Iterator[dict[str, Any]]:
        if not self.enabled:
            return
        if not self.self_hosted:
            yield self.task(name="lock", actions=[self.no_pyodide])
            return
        lock = self.output_lock
        yield self.task(
            name="lock",
            doc=f"add the micropip-mirror wheel to {LOCK}",
            # file_dep on the lockfile orders this after the task that writes it
            # (the Pyodide copy, or the lock addon's solve).
            file_dep=[lock],
            actions=[(self.add_wheel, [lock])],
            uptodate=[False],
        )
        for config in self.get_output_config_paths():
            if config.name == JUPYTERLITE_JSON and self.has_kernel_settings(config):
                yield self.task(
                    name=f"patch:{config.relative_to(manager.output_dir)}",
                    doc="merge micropip-mirror's loadPyodideOptions",
                    file_dep=[lock],
                    actions=[(self.patch_config, [config])],
                    uptodate=[False],
                )

    def has_kernel_settings(self, config: Path) -> bool:
        """The site's root jupyter-lite.json, and an app's own one only if it already sets
        the kernel's options (a new block there would hide the root's lockFileURL)."""
        if not config.exists():
            return False
        if config.parent == Path(self.manager.output_dir):
            return True
        data = json.loads(config.read_text()).get("jupyter-config-data") or {}
        return site.KERNEL_PLUGIN in (data.get("litePluginSettings") or {})

    @property
    def configured(self) -> bool:
        """Whether the build asked for micropip-mirror (any ``MicropipMirrorAddon`` option, on
        the command line or in jupyter_lite_config.json), not merely has it installed."""
        return "MicropipMirrorAddon" in self.config and bool(self.config["MicropipMirrorAddon"])

    def no_pyodide(self) -> bool:
        """Fail a build that asked for micropip-mirror; let any other build go on untouched
        (jupyterlite-core runs every installed addon, and most sites load Pyodide from a CDN)."""
        where = "put one in lite_dir/static/pyodide or pass --pyodide (see the README's JupyterLite section)"
        if not self.configured:
            self.log.warning(f"[micropip-mirror] skipped: not configured, and the site has no self-hosted "
                             f"Pyodide to add the wheel to ({where})")
            return True
        self.log.error(f"[micropip-mirror] the site has no self-hosted Pyodide to add the wheel to: {where}")
        return False

    def add_wheel(self, lock: Path) -> bool:
        if self.wheel:
            wheel = site.check_wheel(Path(self.manager.lite_dir) / self.wheel)
        else:
            wheel = site.wheel_from_installed(self.work_dir)
        entry = site.add_wheel_to_lockfile(lock, wheel, py_compile=self.py_compile)
        out = Path(self.manager.output_dir)
        print(f"    micropip-mirror: {(lock.parent / entry['file_name']).relative_to(out)} "
              f"(sha256 {entry['sha256'][:12]}…, depends {entry['depends']}) added to {lock.relative_to(out)}")
        if self.py_compile and "-cp" not in entry["file_name"]:
            print(f"    micropip-mirror: not py-compiled: needs pyodide-build on a Python of the site's "
                  f"Pyodide's major.minor (this is {sys.version_info[0]}.{sys.version_info[1]})")
        return True

    def patch_config(self, config: Path) -> bool:
        site.configure_jupyterlite_json(config, list(self.mirrors))
        options = json.loads(config.read_text())["jupyter-config-data"]["litePluginSettings"][
            site.KERNEL_PLUGIN]["loadPyodideOptions"]
        print(f"    micropip-mirror: loadPyodideOptions in {config.relative_to(self.manager.output_dir)}: "
              f"packages {options['packages']}, env {sorted(options.get('env', {}))}, args {options['args']}")
        return True
