"""Try candidates in order until one succeeds, hedging when the current one is silent."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

C = TypeVar("C")
R = TypeVar("R")


# Attempts cancelled because another candidate won (not because the caller of
# first_success was cancelled): an attempt asks lost_race() when it is cancelled.
_losers: weakref.WeakSet = weakref.WeakSet()


def lost_race() -> bool:
    """True inside an attempt that first_success cancelled because another
    candidate succeeded; False when the cancel came from outside."""
    task = asyncio.current_task()
    return task is not None and task in _losers


class NoneSucceeded(Exception):
    def __init__(self, failures: list[tuple[object, BaseException]]):
        super().__init__(f"{len(failures)} candidate(s) failed")
        self.failures = failures


async def first_success(
    candidates: Iterable[C],
    attempt: Callable[[C, Callable[[], None]], Awaitable[R]],
    hedge_after: float | None,
    keep_order: bool = True,
) -> tuple[C, R]:
    """Run ``attempt(candidate, answering)`` for each candidate in turn.

    The next candidate starts when the running ones have all failed, or when
    ``hedge_after`` seconds pass and none of them has called ``answering()``
    (the server began to answer); ``hedge_after=0`` starts them all at once.
    The first success wins, except over candidates placed before it that are
    already answering: those are waited for (each bounded by its own timeouts),
    and the best-placed success wins. So the order stays the preference among
    live candidates, and only silent ones are passed over. ``keep_order=False``:
    the first success wins outright (for identical, hash-checked bytes, where
    waiting for a slower stream buys nothing). Every attempt still
    running is then cancelled (inside it, lost_race() is True).
    Raises NoneSucceeded with each failure.
    """
    queue = list(candidates)
    placed: dict[asyncio.Future, int] = {}  # task -> its place in the order
    running: dict[asyncio.Future, C] = {}
    answering: set[asyncio.Future] = set()
    failures: list[tuple[object, BaseException]] = []
    best: tuple[int, C, R] | None = None  # the best-placed success so far

    def launch() -> None:
        candidate = queue.pop(0)
        holder: list[asyncio.Future] = []
        task = asyncio.ensure_future(attempt(candidate, lambda: answering.update(holder)))
        holder.append(task)
        placed[task] = len(placed)
        running[task] = candidate

    def better_and_answering() -> list[asyncio.Future]:
        assert best is not None
        return [t for t in running if placed[t] < best[0] and t in answering]

    try:
        if queue:
            launch()
        while queue and hedge_after == 0:
            launch()
        while running:
            if best is not None:
                waiting_for = better_and_answering() if keep_order else []
                if not waiting_for:
                    break
                done, _ = await asyncio.wait(waiting_for, return_when=asyncio.FIRST_COMPLETED)
            else:
                silent = not (answering & running.keys())
                wait = hedge_after if (queue and hedge_after is not None and silent) else None
                done, _ = await asyncio.wait(running, timeout=wait,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    if not (answering & running.keys()):
                        launch()
                    continue
            for task in done:
                candidate = running.pop(task)
                if task.cancelled():
                    failures.append((candidate, asyncio.CancelledError()))
                elif task.exception() is None:
                    if best is None or placed[task] < best[0]:
                        best = (placed[task], candidate, task.result())
                else:
                    failures.append((candidate, task.exception() or RuntimeError("no exception")))
            if best is None and not running and queue:
                launch()
        if best is not None:
            _losers.update(running)
            return best[1], best[2]
        raise NoneSucceeded(failures)
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
