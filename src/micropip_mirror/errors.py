"""The package's own exceptions, so callers can tell our failures from micropip's."""

from __future__ import annotations


class MirrorError(Exception):
    """Base class of every error micropip-mirror raises."""


class ConfigError(MirrorError, ValueError):
    """A mirror list or option that cannot work."""


class UnsupportedMicropip(MirrorError, RuntimeError):
    """enable() found a micropip it has no adapter for; nothing was patched."""


class InvalidAnswer(MirrorError, ValueError):
    """A mirror answered something that is not a package index page."""


class AttemptFailed(MirrorError):
    """One request to one mirror failed; ``reason`` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AllMirrorsFailed(MirrorError, ValueError):
    """Every mirror failed for one request. A ValueError, as micropip's own
    "can't find package" errors are, so micropip's keep_going still applies."""

    def __init__(self, what: str, failures: list[tuple[str, str, str]]):
        self.what = what
        self.failures = failures  # (mirror name, url, reason)
        lines = [f"all mirrors failed for {what}:"]
        lines += [f"  - {name}: {url} -> {reason}" for name, url, reason in failures]
        super().__init__("\n".join(lines))
