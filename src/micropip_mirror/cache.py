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
            self._entries[(mirror, project)] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
