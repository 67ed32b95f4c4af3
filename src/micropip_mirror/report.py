"""A record of every routed request: who was asked, how long it took, why it failed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

logger = logging.getLogger("micropip_mirror")

_EPOCH = time.monotonic()


def clock_ms(t: float | None = None) -> float:
    """``t`` (time.monotonic(); default now) in ms since this module was loaded:
    the one time axis of every record's ``start_ms``, so overlaps show."""
    return round(((time.monotonic() if t is None else t) - _EPOCH) * 1000, 1)


@dataclass
class Attempt:
    mirror: str
    url: str
    outcome: str = "pending"  # ok | failed | cancelled | cached | stale | fallback
    reason: str = ""
    ms: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    def finish(self, outcome: str, reason: str = "") -> None:
        self.outcome = outcome
        self.reason = reason
        self.ms = round((time.monotonic() - self.started) * 1000, 1)

    def as_dict(self) -> dict:
        return {"mirror": self.mirror, "url": self.url, "outcome": self.outcome,
                "reason": self.reason, "ms": self.ms, "start_ms": clock_ms(self.started)}


@dataclass
class Record:
    kind: str  # index | file | lockfile | probe
    target: str  # project name or file name
    attempts: list[Attempt] = field(default_factory=list)
    served_by: str | None = None
    ms: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    def attempt(self, mirror: str, url: str) -> Attempt:
        a = Attempt(mirror, url)
        self.attempts.append(a)
        return a

    def finish(self, served_by: str | None) -> None:
        self.served_by = served_by
        self.ms = round((time.monotonic() - self.started) * 1000, 1)
        for a in self.attempts:
            if a.outcome == "failed":
                logger.info("%s %s: %s failed: %s", self.kind, self.target, a.mirror, a.reason)
        if served_by:
            logger.debug("%s %s served by %s in %.0f ms", self.kind, self.target, served_by, self.ms)
        else:
            logger.warning("%s %s: every mirror failed", self.kind, self.target)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "served_by": self.served_by,
                "ms": self.ms, "start_ms": clock_ms(self.started),
                "attempts": [a.as_dict() for a in self.attempts]}


class Report(list):
    """The records of this page session, oldest first; str() is a readable table.
    Keeps the last ``limit`` records (a long session stays small in memory);
    ``dropped`` counts the older ones let go."""

    def __init__(self, records=(), limit: int = 1000):
        super().__init__(records)
        self.limit = limit
        self.dropped = 0

    def append(self, record: Record) -> None:
        super().append(record)
        excess = len(self) - self.limit
        if excess > 0:
            del self[:excess]
            self.dropped += excess

    def as_dicts(self) -> list[dict]:
        return [r.as_dict() for r in self]

    def __str__(self) -> str:
        rows = [("kind", "target", "mirror", "outcome", "ms", "reason")]
        if self.dropped:
            rows.append(("…", f"{self.dropped} older records dropped", "", "", "", ""))
        for r in self:
            for a in r.attempts:
                rows.append((r.kind, r.target, a.mirror, a.outcome, f"{a.ms:.0f}", a.reason))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5]
                 for row in rows]
        return "\n".join(line.rstrip() for line in lines)
