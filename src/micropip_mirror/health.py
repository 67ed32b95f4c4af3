"""Per-page memory of how mirrors behaved, so a dead mirror costs once, not per request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .mirrors import Mirror


@dataclass
class _State:
    benched_until: float = 0.0
    last_problem: str = ""


class Health:
    """Mirrors that failed or lagged recently go to the back of the list for
    ``cooldown`` seconds; they are still tried when everyone ahead fails."""

    def __init__(self, cooldown: float, clock=time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self._states: dict[Mirror, _State] = {}

    def bench(self, mirror: Mirror, problem: str) -> None:
        state = self._states.setdefault(mirror, _State())
        state.benched_until = self.clock() + self.cooldown
        state.last_problem = problem

    def restore(self, mirror: Mirror) -> None:
        self._states.pop(mirror, None)

    def is_benched(self, mirror: Mirror) -> bool:
        state = self._states.get(mirror)
        return state is not None and state.benched_until > self.clock()

    def order(self, mirrors: list[Mirror]) -> list[Mirror]:
        """Configured order, with benched mirrors moved (stably) to the end."""
        return sorted(mirrors, key=self.is_benched)
