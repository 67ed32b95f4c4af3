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

from .config import running_version  # noqa: F401 (lives in config: enable() needs it without this module)
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
        self._pending: dict[tuple, asyncio.Future] = {}

    async def download(self, file_name: str, sha256: str | None, bases: list[str]) -> bytes:
        """One download per file at a time: concurrent loadPackage calls that
        share a dependency share its download (a caller cancelled does not
        cancel it for the others)."""
        key = (file_name, sha256, tuple(bases))
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._download(file_name, sha256, bases))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: tuple, done: asyncio.Future) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have been cancelled meanwhile

    async def _download(self, file_name: str, sha256: str | None, bases: list[str]) -> bytes:
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
    request goes to the original fetch untouched.

    The wrapper is a Python function behind ``create_proxy``, not JS code built
    with ``eval``: a page whose Content-Security-Policy forbids ``eval`` gets it
    too. Each URL is counted per call that needs it, so two concurrent
    loadPackage calls sharing a dependency do not take its bytes from each other.
    """

    def __init__(self) -> None:
        self.files: dict[str, list] = {}  # url -> [calls needing it, JS Uint8Array]
        self.original: Any = None  # the fetch we pass everything else to
        self.wrapper: Any = None  # made once, never destroyed: a saved reference stays valid
        self.installed = False  # our wrapper is in the page's fetch chain

    def fetch(self, resource, *rest):
        """The page's fetch while we serve: ours for our URLs, else the original."""
        import js

        try:
            url = str(js.URL.new(getattr(resource, "url", None) or str(resource),
                                 js.location.href).href)
            served = self.files.get(url)
        except Exception:  # an odd argument is the original fetch's business
            served = None
        if served is None:
            return self.original(resource, *rest)
        headers = js.Object.fromEntries([["Content-Type", "application/octet-stream"]])
        init = js.Object.fromEntries([["status", 200], ["headers", headers]])
        return js.Promise.resolve(js.Response.new(served[1], init))

    def add(self, files: dict[str, bytes]) -> None:
        import js
        from pyodide.ffi import create_proxy, to_js

        if self.wrapper is None:
            self.wrapper = create_proxy(self.fetch)
        if not self.installed:
            self.original = js.globalThis.fetch
            js.globalThis.fetch = self.wrapper
            self.installed = True
        for url, data in files.items():
            entry = self.files.setdefault(url, [0, None])
            entry[0] += 1
            if entry[1] is None:
                entry[1] = to_js(data)

    def remove(self, urls) -> None:
        import js

        for url in urls:
            entry = self.files.get(url)
            if entry is not None:
                entry[0] -= 1
                if entry[0] <= 0:
                    del self.files[url]
        if not self.files and self.installed and \
                getattr(js.Object, "is")(js.globalThis.fetch, self.wrapper):
            js.globalThis.fetch = self.original
            self.installed = False
        # Else someone wrapped fetch after us: our wrapper stays in their chain,
        # passing everything through (it serves nothing now) and is reused.


_SERVED = _Served()


def _wanted(names) -> list[str]:
    wanted = names.to_py() if hasattr(names, "to_py") else names
    return [wanted] if isinstance(wanted, str) else list(wanted)


def _plan(names, fetcher) -> tuple[str | None, list[str], list[dict]]:
    """What loadPackage(names) will fetch: (base, candidate bases, lockfile entries).
    Raises on anything unexpected in Pyodide's internals (caller falls back)."""
    import pyodide_js

    base = native_base()
    packages = pyodide_js._api.lockfile_packages.to_py()
    loaded = pyodide_js.loadedPackages.to_py()
    if not isinstance(packages, dict) or not isinstance(loaded, dict):
        raise TypeError(f"lockfile packages of type {type(packages).__name__}, "
                        f"loaded packages of type {type(loaded).__name__}")
    todo = [packages[n] for n in files_to_fetch(_wanted(names), packages, loaded)]
    for entry in todo:
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            raise TypeError(f"unreadable lockfile entry {entry!r:.80}")
    # Absolute file names (allowed from 0.28) are left to Pyodide.
    todo = [p for p in todo if "://" not in p["file_name"] and base]
    return base, candidate_bases(base, fetcher.configured), todo


def _fallback_record(fetcher, names, error: BaseException) -> None:
    """Name in report() that Pyodide's own loadPackage did this call's work."""
    try:
        target = ", ".join(map(str, _wanted(names)))
    except Exception:
        target = repr(names)
    record = Record("lockfile", target)
    fetcher.router.report.append(record)
    record.attempt("micropip-mirror", "").finish(
        "fallback", f"internal error ({type(error).__name__}: {str(error)[:200]}); "
                    "Pyodide's native loadPackage used")
    record.finish("pyodide (native)")


def wrap_load_package(original, fetcher_now):
    """micropip's ``loadPackage`` with the files fetched through our bases first.
    ``fetcher_now()`` gives the current DistFetcher, or None (then: native).
    Any failure of our own machinery (not of the bases) hands the call to the
    native loadPackage, named in report(): never worse than Pyodide alone."""

    async def loadPackage(names, *args, **kwargs):  # noqa: N802 (micropip's name)
        fetcher = fetcher_now()
        if fetcher is None:
            return await original(names, *args, **kwargs)
        files: dict[str, bytes] = {}
        try:
            import js

            base, bases, todo = _plan(names, fetcher)
            datas = await asyncio.gather(*(fetcher.download(p["file_name"], p.get("sha256"), bases)
                                           for p in todo))
            files = {str(js.URL.new(p["file_name"], base).href): d for p, d in zip(todo, datas)}
            _SERVED.add(files)
        except AllMirrorsFailed:
            raise  # every base failed: a real failure, not ours
        except Exception as e:
            _fallback_record(fetcher, names, e)
            return await original(names, *args, **kwargs)
        try:
            return await original(names, *args, **kwargs)
        finally:
            _SERVED.remove(files)

    loadPackage.__wrapped__ = original  # type: ignore[attr-defined]
    return loadPackage
