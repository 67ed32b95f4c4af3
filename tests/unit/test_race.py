"""first_success: hedging, asking every candidate at once, and the order as a
preference among candidates that answer (keep_order)."""

import asyncio

import pytest

from micropip_mirror.race import NoneSucceeded, first_success, lost_race

from micropip_mirror.policy import Policy
from micropip_mirror.router import Router

from .fakes import Scripted, wheel
from .test_router import A, B, WHL, index, router, run


class Script:
    """Attempts driven by the test: each candidate's attempt starts, may call
    answering() when told, and ends with the result or exception it is given."""

    def __init__(self, names):
        self.started: list[str] = []
        self.answer = {n: asyncio.Event() for n in names}
        self.end: dict[str, asyncio.Future] = {}
        self.lost: dict[str, bool] = {}

    async def attempt(self, name, answering):
        self.started.append(name)
        self.end[name] = asyncio.get_running_loop().create_future()
        try:
            await self.answer[name].wait()
            answering()
            return await self.end[name]
        except asyncio.CancelledError:
            self.lost[name] = lost_race()
            raise

    async def until_started(self, *names):
        while not set(names) <= set(self.started):
            await asyncio.sleep(0)

    def finish(self, name, value=None, error=None):
        self.answer[name].set()
        future = self.end[name]
        future.set_exception(error) if error else future.set_result(value)


def test_hedge_after_zero_starts_every_candidate_at_once():
    async def go():
        s = Script("abc")
        race = asyncio.ensure_future(first_success("abc", s.attempt, 0))
        await s.until_started("a", "b", "c")  # nobody answered, no time passed
        s.finish("c", "from c")
        return s, await race

    s, won = run(go())
    assert won == ("c", "from c")
    assert s.lost == {"a": True, "b": True}  # silent ones lose, as a lost race


def test_a_better_placed_candidate_already_answering_is_waited_for():
    async def go():
        s = Script("abc")
        race = asyncio.ensure_future(first_success("abc", s.attempt, 0, keep_order=0))
        await s.until_started("a", "b", "c")
        s.answer["a"].set()  # a has begun to answer, b stays silent
        s.finish("c", "from c")  # c is complete first
        for _ in range(20):
            await asyncio.sleep(0)
        assert not race.done()  # still waiting for a
        s.end["a"].set_result("from a")
        return s, await race

    s, won = run(go())
    assert won == ("a", "from a")
    assert s.lost == {"b": True}


def test_when_the_better_placed_one_fails_the_waiting_success_wins():
    async def go():
        s = Script("ab")
        race = asyncio.ensure_future(first_success("ab", s.attempt, 0, keep_order=0))
        await s.until_started("a", "b")
        s.answer["a"].set()
        s.finish("b", "from b")
        for _ in range(5):
            await asyncio.sleep(0)
        s.end["a"].set_exception(RuntimeError("a's answer was unusable"))
        return await race

    assert run(go()) == ("b", "from b")


def test_a_silent_better_placed_candidate_keeps_its_place_for_keep_order_seconds():
    async def go(finish_a_after):
        s = Script("ab")
        race = asyncio.ensure_future(first_success("ab", s.attempt, 0, keep_order=0.2))
        await s.until_started("a", "b")
        s.finish("b", "from b")  # b is complete at once; a has not begun to answer
        await asyncio.sleep(finish_a_after)
        if not race.done():
            s.finish("a", "from a")
        return s, await race

    s, won = run(go(0.05))  # a answers within its 0.2 s: the order holds
    assert won == ("a", "from a")
    s, won = run(go(0.4))  # a silent past 0.2 s: b's answer is taken, a cancelled as a loser
    assert won == ("b", "from b") and s.lost == {"a": True}


def test_without_keep_order_the_first_success_wins_outright():
    async def go():
        s = Script("ab")
        race = asyncio.ensure_future(first_success("ab", s.attempt, 0))
        await s.until_started("a", "b")
        s.answer["a"].set()  # answering, but keep_order=None: nobody is waited for
        s.finish("b", "from b")
        return await race

    assert run(go()) == ("b", "from b")


def test_with_a_hedge_delay_the_next_candidate_waits_for_silence():
    async def go():
        s = Script("ab")
        race = asyncio.ensure_future(first_success("ab", s.attempt, 0.05))
        await s.until_started("a")
        s.answer["a"].set()  # answering within the delay: b is never asked
        await asyncio.sleep(0.1)
        s.end["a"].set_result("from a")
        return s, await race

    s, won = run(go())
    assert won == ("a", "from a") and s.started == ["a"]


def test_all_failing_raises_with_every_failure():
    async def go():
        s = Script("ab")
        race = asyncio.ensure_future(first_success("ab", s.attempt, 0))
        await s.until_started("a", "b")
        s.finish("a", error=RuntimeError("a down"))
        s.finish("b", error=RuntimeError("b down"))
        return await race

    with pytest.raises(NoneSucceeded) as err:
        run(go())
    assert sorted(str(e) for _, e in err.value.failures) == ["a down", "b down"]


def test_the_first_pages_ask_every_mirror_and_later_ones_the_proven_one():
    """No mirror has answered yet: all are asked at once, and a dead first mirror
    costs first_hedge_after. Once one has answered it is asked alone."""
    page_a = index(A, [(WHL, "https://a.example/" + WHL, None)])
    page_b = index(B, [(WHL, "https://b.example/" + WHL, None)])
    t = Scripted({A.project_url("demo-pkg"): (30, page_a), B.project_url("demo-pkg"): page_b})
    r = router(t, hedge_after=30, first_hedge_after=0.05, timeout=60)
    run(r.project_page("demo-pkg"))
    assert t.asked == [A.project_url("demo-pkg"), B.project_url("demo-pkg")]
    assert r.report[-1].served_by == "b"
    assert [a.outcome for a in r.report[-1].attempts] == ["cancelled", "ok"]
    assert r.health.is_benched(A)  # silent while b answered
    t.asked.clear()
    r.cache.clear()
    run(r.project_page("demo-pkg"))  # b proven and in front now: a is not asked
    assert t.asked == [B.project_url("demo-pkg")]


def test_a_live_first_mirror_slower_than_the_second_still_serves_by_default():
    """The default policy: a first mirror answering within first_hedge_after
    serves, though a second (here lagging: only an older version) answered sooner;
    plain micropip takes the first mirror's page too. With first_hedge_after=0
    the faster one wins."""
    old = "demo_pkg-1.0.0-py3-none-any.whl"
    routes = {A.project_url("demo-pkg"): (0.05, index(A, [(WHL, "https://a.example/" + WHL, None)])),
              B.project_url("demo-pkg"): index(B, [(old, "https://b.example/" + old, None)])}
    r = Router([A, B], Policy(), Scripted(routes))
    page = run(r.project_page("demo-pkg"))
    assert r.report[-1].served_by == "a" and page.files[0].filename == WHL
    assert not r.health.is_benched(A)
    fastest = Router([A, B], Policy(first_hedge_after=0), Scripted(routes))
    run(fastest.project_page("demo-pkg"))
    assert fastest.report[-1].served_by == "b"


def test_files_are_not_asked_of_every_mirror_at_once():
    """The mirror that listed a wheel has answered: it alone is asked (hedged after
    hedge_after), even with first_hedge_after=0 and while it is slow to answer."""
    good = wheel()
    t = Scripted({A.project_url("demo-pkg"): index(A, [(WHL, "https://a.example/" + WHL, None)]),
                  B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, None)]),
                  "https://a.example/" + WHL: (0.2, good), "https://b.example/" + WHL: good})
    r = router(t, hedge_after=30, first_hedge_after=0.0, timeout=60)
    run(r.project_page("demo-pkg"))
    t.asked.clear()
    assert run(r.file_bytes("https://a.example/" + WHL)) == good
    assert t.asked == ["https://a.example/" + WHL]
