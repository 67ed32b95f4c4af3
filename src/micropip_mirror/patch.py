"""enable() / disable(): put the router between micropip and the network, and back."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import config
from .adapters import Adapter, adapter_for
from .errors import AllMirrorsFailed
from .mirrors import Mirror
from .normalize import PEP691_JSON, to_pep691_json
from .select import for_this_python, without_yanked
from .policy import Policy
from .report import Record, Report
from .router import Router
from .transport import IN_PYODIDE

if TYPE_CHECKING:
    from .lockfile import DistFetcher
    from .probe import ProbeSettings

logger = logging.getLogger("micropip_mirror")

_REPORT = Report()


class _Resolving:
    """What the fetch layer learns about the requirement being resolved: which
    versions it needs, and (on micropip 0.10+, which swallows fetch errors) our
    error to raise in place of micropip's generic one."""

    def __init__(self, requirement):
        self.requirement = requirement
        self.error: AllMirrorsFailed | None = None


_resolving: contextvars.ContextVar[_Resolving | None] = contextvars.ContextVar(
    "micropip_mirror_resolving", default=None)


class _Routing:
    """What one enable() set up; an install keeps the one it started with.
    (Plain classes here and in _Session: creating a dataclass costs ~1 ms in Pyodide.)"""

    __slots__ = ("router", "dist", "probing")

    def __init__(self, router: Router, dist: _DistSource | None, probing: _Probing | None):
        self.router = router
        self.dist = dist  # Pyodide's own packages, in a browser
        self.probing = probing  # enable("auto") still measuring


class _DistSource:
    """Where one enable() gets Pyodide's own packages. The DistFetcher is made,
    and lockfile.py imported, at the first loadPackage: each module imported
    by import + enable() costs milliseconds of compiling in Pyodide."""

    def __init__(self, mirrors: list[Mirror], dist_bases, router: Router):
        self.mirrors, self.router = mirrors, router
        self.version = config.running_version()  # read now, as the page is at enable()
        self.configured = _parse_bases(dist_bases)  # a bad value fails enable(), not a later install
        self._fetcher: DistFetcher | None = None

    def fetcher(self) -> DistFetcher:
        if self._fetcher is None:
            from .lockfile import DistFetcher, mirror_bases

            served = mirror_bases(self.mirrors, self.version)
            self._fetcher = DistFetcher(served + self.configured, self.router)
        return self._fetcher


def _parse_bases(dist_bases) -> list[str]:
    if dist_bases is None:
        return []
    from .lockfile import parse_bases

    return parse_bases(dist_bases)


class _Session:
    __slots__ = ("adapter", "routing")

    def __init__(self, adapter: Adapter, routing: _Routing):
        self.adapter, self.routing = adapter, routing


# The install in this context and the routing it started with: set where an
# install begins (Transaction.gather_requirements) and left set, so the wheel
# downloads and loadPackage after it, in the same context, see it too.
# enable() again or disable() during an install then does not strand it.
_pinned: contextvars.ContextVar[tuple[weakref.ref, _Routing] | None] = contextvars.ContextVar(
    "micropip_mirror_pinned", default=None)


def _routing() -> _Routing | None:
    """The routing for a request now: its install's, else the current one."""
    pin = _pinned.get()
    if pin is not None:
        return pin[1]
    return _session.routing if _session is not None else None


class _Probing:
    """The probe of enable("auto"): started at once where an event loop runs
    (always in Pyodide), else by the first request that needs the mirrors."""

    def __init__(self, run):
        self.run = run
        self.task: asyncio.Future | None = None

    def start(self) -> asyncio.Future:
        if self.task is None:
            self.task = asyncio.ensure_future(self.run())
        return self.task

    async def wait(self) -> None:
        await self.start()


_session: _Session | None = None


def enable(mirrors=None, *, policy: Policy | None = None, transport=None, dist_bases=None,
           catalogue=None, probe_settings: ProbeSettings | None = None,
           **options) -> list[Mirror]:
    """Route micropip's index requests and wheel downloads through ``mirrors``.

    ``mirrors``: Mirror objects or index URL strings, tried in order. None reads
    MICROPIP_MIRROR_URLS (os.environ, then a JS global of that name), else the
    built-in defaults that can work here. Options are Policy fields (timeout,
    download_timeout, hedge_after, first_hedge_after, cooldown, cache_ttl,
    require_hashes).
    ``dist_bases``: extra URLs of Pyodide distribution folders (a self-hosted
    copy of ``.../pyodide/vX/full/``) to fetch Pyodide's own packages from when
    the base Pyodide was loaded from (and jsDelivr's other hosts) fail. A
    Cloudflare mirror's ``/pyodide/v<running version>/full/`` comes first.
    ``mirrors="auto"`` (or MICROPIP_MIRROR_URLS=auto): probe the catalogue (or ``catalogue=[...]``) and the
    configured mirrors from here, use the usable ones fastest first, and
    remember the choice (localStorage in a browser) for the next page load;
    see probe.ProbeSettings. ``await micropip_mirror.ready()`` waits for
    the probe; micropip's requests wait for it anyway.
    Calling it again replaces the configuration. Returns the mirror list
    (for "auto" without a remembered choice: the candidates, until probed).
    """
    global _session
    import micropip

    candidates = remembered = None
    if config.wants_auto(mirrors):
        from . import probe  # only for "auto": not on the import + enable() path

        candidates = config.auto_candidates(catalogue)
        remembered = probe.recall(candidates)
        chosen = remembered or candidates
    else:
        chosen = config.resolve(mirrors)
    router = Router(chosen, (policy or Policy()).with_options(**options), transport, _REPORT)
    probing = None
    if candidates is not None and remembered is None:
        probing = _Probing(_probe_for(router, candidates, probe_settings or probe.ProbeSettings()))
    dist = _DistSource(chosen, dist_bases, router) if config.in_browser() else None
    routing = _Routing(router, dist, probing)
    if _session is not None:
        _session.routing = routing
    else:
        adapter = adapter_for(micropip)
        adapter.check()
        string_fetch, bytes_fetch, add_requirement = adapter.originals()
        _session = _Session(adapter, routing)
        adapter.apply(*_patched(string_fetch, bytes_fetch, add_requirement))
        adapter.apply_install_start(_pinning)
        adapter.apply_load_package(_load_package)
    if probing is not None and (IN_PYODIDE or _loop_running()):
        probing.start()
    logger.info("micropip-mirror enabled for micropip %s (%s): %s", micropip.__version__,
                _session.adapter.generation, ", ".join(m.name for m in chosen))
    return chosen


def _load_package(original):
    """micropip's loadPackage, replaced; lockfile.py's wrapper is made at its first call."""
    wrapped: list = []

    async def loadPackage(names, *args, **kwargs):  # noqa: N802 (micropip's name)
        if not wrapped:
            from .lockfile import wrap_load_package

            wrapped.append(wrap_load_package(original, _dist_now))
        return await wrapped[0](names, *args, **kwargs)

    loadPackage.__wrapped__ = original  # type: ignore[attr-defined]
    return loadPackage


def _probe_for(router: Router, candidates: list[Mirror], settings: ProbeSettings):
    async def run():
        from . import probe

        record = Record("probe", "auto")
        _REPORT.append(record)
        try:
            router.mirrors = await probe.choose(candidates, router.transport, settings, record)
        except Exception:  # a probe bug must not stop installs: keep the candidates
            logger.exception("micropip-mirror auto: probe failed; using the catalogue order")
        logger.info("micropip-mirror auto: %s", ", ".join(m.name for m in router.mirrors))
    return run


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def ready() -> list[Mirror]:
    """The mirror list in use, once enable("auto")'s probe (if any) is done."""
    if _session is None:
        return []
    routing = _session.routing
    if routing.probing is not None:
        await routing.probing.wait()
    return list(routing.router.mirrors)


def disable() -> None:
    """Put micropip back exactly as it was. Safe to call when not enabled."""
    global _session
    if _session is not None:
        _session.adapter.restore()
        _session = None


def is_enabled() -> bool:
    return _session is not None


@contextmanager
def enabled(mirrors=None, **options):
    """``with enabled([...]):`` — enable for the block, then restore."""
    previous = _session.routing if _session else None
    enable(mirrors, **options)
    try:
        yield
    finally:
        if previous is None:
            disable()
        elif _session is not None:
            _session.routing = previous


def _dist_now() -> DistFetcher | None:
    routing = _routing()
    return routing.dist.fetcher() if routing is not None and routing.dist is not None else None


def _pinning(original_gather):
    """Transaction.gather_requirements that pins the install (its Transaction)
    to the routing in force when it began; nested calls keep the pin."""

    async def gather_requirements(self, requirements, *args, **kwargs):
        pin = _pinned.get()
        if (pin is None or pin[0]() is not self) and _session is not None:
            _pinned.set((weakref.ref(self), _session.routing))
        return await original_gather(self, requirements, *args, **kwargs)

    return gather_requirements


def report(file=sys.stdout) -> Report:
    """Every routed request of this session (oldest first); printed as a table
    to ``file`` unless it is None."""
    if file is not None:
        print(_REPORT, file=file)
    return _REPORT


def _patched(original_string, original_bytes, original_add):
    async def fetch_string_and_headers(url, kwargs):
        routing = _routing()
        if routing is not None and routing.probing is not None:
            await routing.probing.wait()
        router = routing.router if routing else None
        project = router.match(url) if router else None
        if project is None:
            return await original_string(url, kwargs)
        resolving = _resolving.get()
        requirement = resolving and resolving.requirement
        try:
            assert router is not None  # project is None without a router
            page = await router.project_page(project, requirement)
        except AllMirrorsFailed as e:
            if resolving is not None:
                resolving.error = e
            raise
        page = for_this_python(page, requirement)
        if _session is not None and not _session.adapter.honours_yanked:
            page = without_yanked(page, requirement)
        return to_pep691_json(page), {"content-type": PEP691_JSON}

    async def fetch_bytes(url, kwargs):
        routing = _routing()
        router = routing.router if routing else None
        data = await router.file_bytes(url) if router else None
        return data if data is not None else await original_bytes(url, kwargs)

    async def _add_requirement_from_package_index(self, req):
        resolving = _Resolving(req)
        token = _resolving.set(resolving)
        try:
            return await original_add(self, req)
        except ValueError as e:
            if resolving.error is not None and resolving.error is not e:
                raise resolving.error from e
            raise
        finally:
            _resolving.reset(token)

    return fetch_string_and_headers, fetch_bytes, _add_requirement_from_package_index
