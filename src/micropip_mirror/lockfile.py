"""Pyodide's own packages (its lockfile) through an ordered list of distribution bases.

micropip installs lockfile packages (six, numpy, ...) by calling Pyodide's JS
``loadPackage(names)``, which fetches ``<base>/<file_name>`` from the one base
Pyodide was loaded from, with no timeout and no fallback. We put a wrapper in
micropip's place: it works out which files that call will fetch (the names and
their lockfile dependencies not yet loaded), downloads each one through the
bases in order (hedged, time-bounded, sha256 from the lockfile checked), then
calls the native ``loadPackage`` with the page's ``fetch`` answering exactly
those URLs from the verified bytes. Everything else (dependency order, shared
libraries, ``loadedPackages``) stays Pyodide's own work, on every release.

Where the base comes from: Pyodide 0.28+ resolves file names against its
package manager's ``installBaseUrl`` (= ``pyodide.lockfileBaseUrl``, which
micropip 0.10+ copies as ``compat_layer.lockfile_base_url``); 0.26/0.27 against
``config.indexURL``. Only in a browser page or Web Worker: Node.js reads
packages from its local cache directory, not through fetch.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import AllMirrorsFailed, ConfigError
from .race import NoneSucceeded, first_success
from .report import Record
from .router import check_sha256

JSDELIVR = "cdn.jsdelivr.net"
JSDELIVR_ALTERNATES = ("fastly.jsdelivr.net", "gcore.jsdelivr.net", "testingcf.jsdelivr.net")


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def parse_bases(value) -> list[str]:
    """``dist_bases``: one URL or a list of URLs of folders holding Pyodide's
    distribution files (same layout as the CDN's ``.../pyodide/vX/full/``)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"dist_bases must be a URL or a list of URLs, got {value!r}")
    for url in value:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"a dist base must be an http(s) URL, got {url!r}")
    return [_slash(u) for u in value]


def mirror_bases(mirrors, pyodide_version: str | None) -> list[str]:
    """Distribution bases the configured mirrors serve for the running Pyodide
    (a Cloudflare mirror's ``/pyodide/v<version>/full/``): tried after the
    base Pyodide was loaded from, before ``dist_bases``."""
    if not pyodide_version:
        return []
    return [b for b in (m.dist_base(pyodide_version) for m in mirrors) if b]


def running_version() -> str | None:
    """The running Pyodide's version (``pyodide.version`` in JS), in a browser."""
    try:
        import pyodide_js
    except ImportError:
        return None
    return str(pyodide_js.version)


def candidate_bases(native: str | None, configured: list[str]) -> list[str]:
    """The bases to try, in order: the one Pyodide was loaded from, jsDelivr's
    alternative hosts with the same path when that one is on cdn.jsdelivr.net,
    then the configured ones."""
    bases = []
    if native:
        native = _slash(native)
        bases.append(native)
        parts = urlsplit(native)
        if parts.hostname == JSDELIVR:
            bases += [urlunsplit(parts._replace(netloc=host)) for host in JSDELIVR_ALTERNATES]
    bases += [_slash(b) for b in configured]
    return list(dict.fromkeys(bases))


def files_to_fetch(names, packages: dict, loaded) -> list[str]:
    """Lockfile names that ``loadPackage(names)`` will download: the names and
    their dependencies, recursively, minus those already loaded."""
    todo, seen = list(names), []
    while todo:
        name = todo.pop(0)
        if name in seen or name in loaded or name not in packages:
            continue
        seen.append(name)
        todo += list(packages[name].get("depends", []))
    return seen


def _base_name(base: str) -> str:
    return urlsplit(base).netloc


class DistFetcher:
    """Downloads lockfile files from the first base that serves the right bytes,
    through the router's request path (timeouts, hedging, health, report)."""

    def __init__(self, configured: list[str], router):
        self.configured = list(configured)
        self.router = router

    async def download(self, file_name: str, sha256: str | None, bases: list[str]) -> bytes:
        router, record = self.router, Record("lockfile", file_name)
        router.report.append(record)

        def verify(resp) -> bytes:
            return check_sha256(resp.body, sha256, "lockfile") if sha256 else resp.body

        async def attempt(base: str, answering) -> bytes:
            tried = record.attempt(_base_name(base), base + file_name)
            body = await router._request(base, base + file_name, {}, router.policy.download_timeout,
                                         verify, tried, answering,
                                         total=router.policy.download_cap)
            router.health.restore(base)
            tried.finish("ok", "" if sha256 else "unverified: no sha256 in the lockfile")
            return body

        try:
            base, data = await first_success(router.health.order(bases), attempt,
                                             router.policy.hedge_after)
        except NoneSucceeded:
            record.finish(None)
            raise AllMirrorsFailed(f"Pyodide package file {file_name!r}",
                                   [(a.mirror, a.url, a.reason) for a in record.attempts]) from None
        record.finish(_base_name(base))
        return data


# -- in the page: which base Pyodide uses, and its fetch answering from our bytes ----

_FETCH_WRAPPER = """
(original, served) => function fetch(input, init) {
    let url;
    try {
        url = new URL(input instanceof Request ? input.url : String(input),
                      globalThis.location && globalThis.location.href).href;
    } catch (e) {
        return original(input, init);
    }
    const bytes = served.get(url);
    if (bytes === undefined) return original(input, init);
    return Promise.resolve(new Response(bytes, {
        status: 200, headers: {"Content-Type": "application/octet-stream"}}));
}
"""


def native_base() -> str | None:
    """The absolute URL Pyodide's loadPackage resolves lockfile file names against."""
    import js
    import pyodide_js

    api = pyodide_js._api
    manager = getattr(api, "packageManager", None)  # Pyodide 0.28+
    base = getattr(manager, "installBaseUrl", None) if manager is not None else None
    if not base:
        base = getattr(api.config, "indexURL", None)  # Pyodide 0.26, 0.27
    if not base:
        return None
    return str(js.URL.new(base, js.location.href).href)


class _Served:
    """The page's fetch, wrapped while at least one loadPackage call of ours runs:
    the URLs we downloaded are answered from their verified bytes, every other
    request goes to the original fetch untouched."""

    def __init__(self) -> None:
        self.users = 0
        self.original: Any = None
        self.wrapper: Any = None
        self.map: Any = None

    def add(self, files: dict[str, bytes]):
        import js
        from pyodide.ffi import to_js

        if self.users == 0:
            self.map = js.Map.new()
            self.original = js.globalThis.fetch
            self.wrapper = js.eval(_FETCH_WRAPPER)(self.original, self.map)
            js.globalThis.fetch = self.wrapper
        self.users += 1
        for url, data in files.items():
            self.map.set(url, to_js(data))

    def remove(self, urls) -> None:
        import js

        for url in urls:
            self.map.delete(url)
        self.users -= 1
        if self.users == 0:
            if getattr(js.Object, "is")(js.globalThis.fetch, self.wrapper):
                js.globalThis.fetch = self.original
            # Else someone wrapped fetch after us: our wrapper stays in their
            # chain, passing everything through (its map is empty).
            self.original = self.wrapper = self.map = None


_SERVED = _Served()


def wrap_load_package(original, fetcher_now):
    """micropip's ``loadPackage`` with the files fetched through our bases first.
    ``fetcher_now()`` gives the current DistFetcher, or None (then: native)."""

    async def loadPackage(names, *args, **kwargs):  # noqa: N802 (micropip's name)
        fetcher = fetcher_now()
        if fetcher is None:
            return await original(names, *args, **kwargs)
        import js
        import pyodide_js

        base = native_base()
        packages = pyodide_js._api.lockfile_packages.to_py()
        loaded = pyodide_js.loadedPackages.to_py()
        wanted = names.to_py() if hasattr(names, "to_py") else names
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        bases = candidate_bases(base, fetcher.configured)
        todo = [packages[n] for n in files_to_fetch(wanted, packages, loaded)]
        # Absolute file names (allowed from 0.28) are left to Pyodide.
        todo = [p for p in todo if "://" not in p["file_name"] and base]
        datas = await asyncio.gather(*(fetcher.download(p["file_name"], p.get("sha256"), bases)
                                       for p in todo))
        files = {str(js.URL.new(p["file_name"], base).href): d for p, d in zip(todo, datas)}
        _SERVED.add(files)
        try:
            return await original(names, *args, **kwargs)
        finally:
            _SERVED.remove(files)

    loadPackage.__wrapped__ = original  # type: ignore[attr-defined]
    return loadPackage
