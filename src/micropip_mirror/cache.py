"""A short-lived cache of index answers, per mirror and project."""

from __future__ import annotations

import time

from .mirrors import Mirror


class AnswerCache:
    """Keeps parsed project pages (and 'not found' answers) for ``ttl`` seconds,
    so installing the same thing twice in a page asks no mirror twice."""

    def __init__(self, ttl: float, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[Mirror, str], tuple[float, object]] = {}
        self._next_sweep = float("-inf")  # first put sweeps (nothing) and sets it

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, mirror: Mirror, project: str):
        entry = self._entries.get((mirror, project))
        if entry is None:
            return None
        expires, value = entry
        if expires <= self.clock():
            del self._entries[(mirror, project)]
            return None
        return value

    def put(self, mirror: Mirror, project: str, value) -> None:
        if self.ttl > 0:
            now = self.clock()
            self._entries.pop((mirror, project), None)  # keep insertion order = expiry order
            self._entries[(mirror, project)] = (now + self.ttl, value)
            if now >= self._next_sweep:
                self._evict_expired(now)

    def _evict_expired(self, now: float) -> None:
        """Drop every expired entry, once per ttl: a long session's cache holds
        at most what two ttl's brought in. Entries are in expiry order."""
        self._next_sweep = now + self.ttl
        for key, (expires, _) in list(self._entries.items()):
            if expires > now:
                break
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()
