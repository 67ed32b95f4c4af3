"""Which mirrors to use when enable() is given none: configuration, then defaults."""

from __future__ import annotations

import json
import os
import re

from .errors import ConfigError
from .mirrors import Mirror
from .transport import IN_PYODIDE

ENV_URLS = "MICROPIP_MIRROR_URLS"
ENV_CLOUDFLARE = "MICROPIP_MIRROR_CLOUDFLARE"
CLOUDFLARE_PREFIX = "cloudflare:"


def in_browser() -> bool:
    """True in a browser page or Web Worker, where CORS applies (not in Node.js)."""
    if not IN_PYODIDE:
        return False
    import js  # pyodide.ffi.IN_BROWSER is gone in newer Pyodide; ask the JS runtime

    process = getattr(js, "process", None)
    versions = getattr(process, "versions", None) if process is not None else None
    return not (versions is not None and getattr(versions, "node", None))


def running_version() -> str | None:
    """The running Pyodide's version (``pyodide.version`` in JS), in a browser."""
    try:
        import pyodide_js
    except ImportError:
        return None
    return str(pyodide_js.version)


def parse_mirrors(value) -> list[Mirror]:
    """Mirrors from a string (index URLs separated by commas, spaces or newlines;
    ``cloudflare:<origin>`` for a Worker mirror; or a JSON list) or a list of
    strings, dicts ({"index_url", "files_url", "name"}) and Mirror objects."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as e:
                raise ConfigError(f"mirror list is not valid JSON: {e}") from None
        else:
            value = [v for v in re.split(r"[\s,]+", text) if v]
    if isinstance(value, Mirror):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"a mirror list is a string or a list, got {type(value).__name__}")
    return [_one(v) for v in value]


def _one(value) -> Mirror:
    if isinstance(value, dict):
        try:
            return Mirror(**value)
        except TypeError as e:
            raise ConfigError(f"bad mirror entry {value!r}: {e}") from None
    if isinstance(value, str) and value.startswith(CLOUDFLARE_PREFIX):
        return Mirror.cloudflare(value[len(CLOUDFLARE_PREFIX):])
    return Mirror.coerce(value)


def _js_global(name: str):
    if not IN_PYODIDE:
        return None
    import js

    value = getattr(js, name, None)
    if value is None:
        return None
    return value.to_py() if hasattr(value, "to_py") else value


def _setting(name: str):
    """A setting from Pyodide's os.environ (loadPyodide({env})), else a JS global."""
    value = os.environ.get(name)
    return value if value else _js_global(name)


AUTO = "auto"


def wants_auto(mirrors) -> bool:
    """enable("auto"), or enable() with MICROPIP_MIRROR_URLS set to "auto"."""
    value = mirrors if mirrors is not None else _setting(ENV_URLS)
    return isinstance(value, str) and value.strip().lower() == AUTO


def auto_candidates(catalogue_override=None) -> list[Mirror]:
    """What enable("auto") probes: configured mirrors (MICROPIP_MIRROR_CLOUDFLARE,
    MICROPIP_MIRROR_URLS), then the catalogue (every entry: the probe, not the
    catalogue's notes, decides what works here) or ``catalogue_override``
    (Known entries, Mirror objects or index URLs)."""
    from . import catalogue  # only for defaults and "auto" (import time counts in Pyodide)

    if catalogue_override is not None:
        entries = [k.mirror if isinstance(k, catalogue.Known) else k for k in catalogue_override]
        known = parse_mirrors(list(entries))
    else:
        known = [k.mirror for k in catalogue.CATALOGUE]
    configured = _setting(ENV_URLS)
    if isinstance(configured, str) and configured.strip().lower() == AUTO:
        configured = None
    cloudflare = _setting(ENV_CLOUDFLARE)
    found = ([Mirror.cloudflare(cloudflare)] if cloudflare else []) + \
        (parse_mirrors(configured) if configured else []) + known
    if not found:
        raise ConfigError("nothing to probe: the catalogue is empty")
    return list(dict.fromkeys(found))


def resolve(mirrors=None) -> list[Mirror]:
    """The list enable() uses: the argument, else configuration, else defaults.
    A configured Cloudflare Worker mirror goes first."""
    if mirrors is not None:
        found = parse_mirrors(mirrors)
    else:
        from . import catalogue

        configured = _setting(ENV_URLS)
        found = parse_mirrors(configured) if configured else catalogue.usable(in_browser())
        cloudflare = _setting(ENV_CLOUDFLARE)
        if cloudflare:
            found = [Mirror.cloudflare(cloudflare)] + found
        found = sorted(found, key=lambda m: m.name != "cloudflare")
    if not found:
        raise ConfigError("the mirror list is empty")
    unique = list(dict.fromkeys(found))
    return unique
