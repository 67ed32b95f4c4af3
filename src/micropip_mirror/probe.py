"""enable("auto"): find which indexes work from here, fastest first, and remember it.

Every candidate (the catalogue, plus configured mirrors) is asked for one
project page at the same time, with a short timeout. A candidate is usable when
it answers 200 with a valid index page: in a browser that also proves it sends
CORS headers. Usable ones are ordered by how long they took. The choice is kept
for ``remember`` seconds: in localStorage in a browser page (so the next page
load skips the probe), else in memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from .errors import AttemptFailed
from .mirrors import Mirror
from .report import Record
from .router import ACCEPT, parse_page

STORAGE_KEY = "micropip-mirror:auto"
_MEMORY: dict[str, str] = {}  # where there is no localStorage (Node.js, Web Workers, CPython)


@dataclass(frozen=True)
class ProbeSettings:
    """project: the project page asked of every candidate (one every full
    mirror has). timeout: seconds each probe may take; they run at once, so it
    bounds the whole probe. remember: seconds the choice is reused."""

    project: str = "micropip"
    timeout: float = 1.0
    remember: float = 3600.0


@dataclass
class Probe:
    mirror: Mirror
    ok: bool
    ms: float
    layout: str = ""  # pep691 | pep503, when ok
    reason: str = ""


async def probe_one(mirror: Mirror, transport, settings: ProbeSettings, record: Record) -> Probe:
    url = mirror.project_url(settings.project)
    attempt = record.attempt(mirror.name, url)
    started = time.monotonic()
    try:
        resp = await transport.fetch(url, headers={"Accept": ACCEPT}, timeout=settings.timeout)
        if resp.status != 200:
            raise AttemptFailed(f"HTTP {resp.status}")
        parse_page(resp, settings.project)
        ctype = resp.headers.get("content-type", "")
    except AttemptFailed as e:
        attempt.finish("failed", e.reason)
        return Probe(mirror, False, attempt.ms, reason=e.reason)
    ms = round((time.monotonic() - started) * 1000, 1)
    layout = "pep691" if "json" in ctype else "pep503"
    attempt.finish("ok", layout)
    return Probe(mirror, True, ms, layout)


async def probe_all(candidates: list[Mirror], transport, settings: ProbeSettings,
                    record: Record) -> list[Probe]:
    """Probe every candidate at once; the usable ones, fastest first."""
    probes = await asyncio.gather(*(probe_one(m, transport, settings, record) for m in candidates))
    usable = sorted((p for p in probes if p.ok), key=lambda p: p.ms)
    record.finish(usable[0].mirror.name if usable else None)
    return usable


# -- memory ------------------------------------------------------------------------


def fingerprint(candidates: list[Mirror]) -> str:
    """Which candidate set a remembered choice belongs to (order does not matter)."""
    return "\n".join(sorted(f"{m.index_url} {m.files_url or ''}" for m in candidates))


def _storage():
    try:
        import js

        storage = js.localStorage
        storage.getItem(STORAGE_KEY)  # can throw (opaque origins, disabled storage)
        return storage
    except Exception:
        return None


def recall(candidates: list[Mirror], now: float | None = None) -> list[Mirror] | None:
    """The remembered choice for these candidates, if it has not expired."""
    storage = _storage()
    raw = storage.getItem(STORAGE_KEY) if storage is not None else _MEMORY.get(STORAGE_KEY)
    if not raw:
        return None
    try:
        saved = json.loads(str(raw))
        if saved["fingerprint"] != fingerprint(candidates):
            return None
        if saved["expires"] <= (time.time() if now is None else now):
            return None
        chosen = [Mirror(m["index_url"], m.get("files_url"), m.get("name")) for m in saved["mirrors"]]
    except Exception:  # anything unreadable is simply not remembered
        return None
    return chosen or None


def remember(candidates: list[Mirror], usable: list[Probe], seconds: float,
             now: float | None = None) -> None:
    value = json.dumps({
        "fingerprint": fingerprint(candidates),
        "expires": (time.time() if now is None else now) + seconds,
        "mirrors": [{"index_url": p.mirror.index_url, "files_url": p.mirror.files_url,
                     "name": p.mirror.name, "ms": p.ms, "layout": p.layout} for p in usable],
    })
    storage = _storage()
    if storage is not None:
        storage.setItem(STORAGE_KEY, value)
    else:
        _MEMORY[STORAGE_KEY] = value


def forget() -> None:
    """Drop the remembered choice (the next enable("auto") probes again)."""
    storage = _storage()
    if storage is not None:
        storage.removeItem(STORAGE_KEY)
    _MEMORY.pop(STORAGE_KEY, None)


async def choose(candidates: list[Mirror], transport, settings: ProbeSettings,
                 record: Record) -> list[Mirror]:
    """Probe, remember and return the usable candidates fastest first; when none
    answered, the candidates as given (not remembered: maybe we are offline)."""
    usable = await probe_all(candidates, transport, settings, record)
    if not usable:
        return list(candidates)
    remember(candidates, usable, settings.remember)
    return [p.mirror for p in usable]
