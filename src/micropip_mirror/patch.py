"""enable() / disable(): put the router between micropip and the network, and back."""

from __future__ import annotations

import contextvars
import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from . import config
from .adapters import Adapter, adapter_for
from .errors import AllMirrorsFailed
from .mirrors import Mirror
from .normalize import PEP691_JSON, to_pep691_json
from .policy import Policy
from .report import Report
from .router import Router

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


@dataclass
class _Session:
    adapter: Adapter
    router: Router


_session: _Session | None = None


def enable(mirrors=None, *, policy: Policy | None = None, transport=None, **options) -> list[Mirror]:
    """Route micropip's index requests and wheel downloads through ``mirrors``.

    ``mirrors``: Mirror objects or index URL strings, tried in order. None reads
    MICROPIP_MIRROR_URLS (os.environ, then a JS global of that name), else the
    built-in defaults that can work here. Options are Policy fields (timeout,
    download_timeout, hedge_after, cooldown, cache_ttl, require_hashes).
    Calling it again replaces the configuration. Returns the mirror list.
    """
    global _session
    import micropip

    chosen = config.resolve(mirrors)
    router = Router(chosen, (policy or Policy()).with_options(**options), transport, _REPORT)
    if _session is not None:
        _session.router = router
    else:
        adapter = adapter_for(micropip)
        adapter.check()
        string_fetch, bytes_fetch, add_requirement = adapter.originals()
        _session = _Session(adapter, router)
        adapter.apply(*_patched(string_fetch, bytes_fetch, add_requirement))
    logger.info("micropip-mirror enabled for micropip %s (%s): %s", micropip.__version__,
                _session.adapter.generation, ", ".join(m.name for m in chosen))
    return chosen


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
    previous = _session.router if _session else None
    enable(mirrors, **options)
    try:
        yield
    finally:
        if previous is None:
            disable()
        elif _session is not None:
            _session.router = previous


def report(file=sys.stdout) -> Report:
    """Every routed request of this session (oldest first); printed as a table
    to ``file`` unless it is None."""
    if file is not None:
        print(_REPORT, file=file)
    return _REPORT


def _patched(original_string, original_bytes, original_add):
    async def fetch_string_and_headers(url, kwargs):
        router = _session.router if _session else None
        project = router.match(url) if router else None
        if project is None:
            return await original_string(url, kwargs)
        resolving = _resolving.get()
        try:
            page = await router.project_page(project, resolving and resolving.requirement)
        except AllMirrorsFailed as e:
            if resolving is not None:
                resolving.error = e
            raise
        return to_pep691_json(page), {"content-type": PEP691_JSON}

    async def fetch_bytes(url, kwargs):
        router = _session.router if _session else None
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
