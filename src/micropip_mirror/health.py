"""Per-page memory of how mirrors behaved, so a dead mirror costs once, not per request."""

from __future__ import annotations

import time

from .mirrors import Mirror


class _State:
    """A plain class, not a dataclass: creating a dataclass costs ~1 ms in Pyodide."""

    __slots__ = ("benched_until", "last_problem")

    def __init__(self):
        self.benched_until = 0.0
        self.last_problem = ""


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
