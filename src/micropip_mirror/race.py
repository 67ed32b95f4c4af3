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
    keep_order: float | None = None,
) -> tuple[C, R]:
    """Run ``attempt(candidate, answering)`` for each candidate in turn.

    The next candidate starts when the running ones have all failed, or when
    ``hedge_after`` seconds pass and none of them has called ``answering()``
    (the server began to answer); ``hedge_after=0`` starts them all at once.
    ``keep_order=None``: the first success wins outright (identical, checked
    bytes: waiting for a slower copy buys nothing). A number keeps the order a
    preference: a success waits for the candidates placed before it that are
    answering (each bounded by its own timeouts) or that are silent but started
    less than ``keep_order`` seconds ago, and the best-placed success wins.
    Every attempt still running is then cancelled (inside it, lost_race() is True).
    Raises NoneSucceeded with each failure.
    """
    queue = list(candidates)
    placed: dict[asyncio.Future, int] = {}  # task -> its place in the order
    running: dict[asyncio.Future, C] = {}
    answering: set[asyncio.Future] = set()
    failures: list[tuple[object, BaseException]] = []
    best: tuple[int, C, R] | None = None  # the best-placed success so far
    loop = asyncio.get_running_loop()
    started: dict[asyncio.Future, float] = {}

    def launch() -> None:
        candidate = queue.pop(0)
        holder: list[asyncio.Future] = []
        task = asyncio.ensure_future(attempt(candidate, lambda: answering.update(holder)))
        holder.append(task)
        placed[task] = len(placed)
        started[task] = loop.time()
        running[task] = candidate

    def still_ahead() -> tuple[list[asyncio.Future], float | None]:
        """The better-placed candidates the best success waits for, and how long
        until the first of the silent ones among them loses its place."""
        assert best is not None and keep_order is not None
        ahead, until = [], None
        for task in running:
            if placed[task] < best[0]:
                left = started[task] + keep_order - loop.time()
                if task in answering:
                    ahead.append(task)
                elif left > 0:
                    ahead.append(task)
                    until = left if until is None else min(until, left)
        return ahead, until

    try:
        if queue:
            launch()
        while queue and hedge_after == 0:
            launch()
        while running:
            if best is not None:
                ahead, until = still_ahead() if keep_order is not None else ([], None)
                if not ahead:
                    break
                done, _ = await asyncio.wait(ahead, timeout=until,
                                             return_when=asyncio.FIRST_COMPLETED)
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
