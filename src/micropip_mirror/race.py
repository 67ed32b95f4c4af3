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
) -> tuple[C, R]:
    """Run ``attempt(candidate, answering)`` for each candidate in turn.

    The next candidate starts when the running ones have all failed, or when
    ``hedge_after`` seconds pass and none of them has called ``answering()``
    (the server began to answer). The first success wins and every other
    attempt still running is cancelled (inside it, lost_race() is then True).
    Raises NoneSucceeded with each failure.
    """
    queue = list(candidates)
    running: dict[asyncio.Future, C] = {}
    answering: set[asyncio.Future] = set()
    failures: list[tuple[object, BaseException]] = []

    def launch() -> None:
        candidate = queue.pop(0)
        holder: list[asyncio.Future] = []
        task = asyncio.ensure_future(attempt(candidate, lambda: answering.update(holder)))
        holder.append(task)
        running[task] = candidate

    try:
        if queue:
            launch()
        while running:
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
                    _losers.update(running)
                    return candidate, task.result()
                else:
                    failures.append((candidate, task.exception() or RuntimeError("no exception")))
            if not running and queue:
                launch()
        raise NoneSucceeded(failures)
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
