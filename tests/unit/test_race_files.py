"""Downloads in a hedge race: the first complete, checked copy wins, not a
better-placed mirror that began streaming later (the bytes are the same)."""

from .fakes import Streaming, sha, wheel
from .test_router import A, B, WHL, index, router, run


GOOD = wheel()


def test_a_wheel_complete_from_the_hedge_is_not_held_for_a_slower_stream():
    """The listing mirror a is silent past hedge_after, so b is asked too; a then
    begins to stream the same wheel, slowly. b's copy, complete and with the
    listed hash, wins: the bytes are the same whoever sends them, and waiting
    for a's stream could take up to download_cap (900 s by default)."""
    t = Streaming({A.project_url("demo-pkg"): index(A, [(WHL, "https://a.example/" + WHL, sha(GOOD))]),
                   B.project_url("demo-pkg"): index(B, [(WHL, "https://b.example/" + WHL, sha(GOOD))]),
                   "https://a.example/" + WHL: (0.1, 3.0, GOOD),
                   "https://b.example/" + WHL: (0.06, 0.3, GOOD)})
    r = router(t, hedge_after=0.05, timeout=60, download_timeout=60)
    run(r.project_page("demo-pkg"))
    assert run(r.file_bytes("https://a.example/" + WHL)) == GOOD
    assert r.report[-1].served_by == "b"
    assert t.cancelled == ["https://a.example/" + WHL]


def test_a_pyodide_package_complete_from_the_hedge_is_not_held_for_a_slower_stream():
    """The same for lockfile downloads: the first copy with the lockfile's sha256 wins."""
    from micropip_mirror.lockfile import DistFetcher

    first, second = "https://cdn.example/full/", "https://own.example/full/"
    t = Streaming({first + WHL: (0.1, 3.0, GOOD), second + WHL: (0.06, 0.3, GOOD)})
    r = router(t, hedge_after=0.05, timeout=60, download_timeout=60)
    fetcher = DistFetcher([second], r)
    assert run(fetcher.download(WHL, sha(GOOD), [first, second])) == GOOD
    assert r.report[-1].served_by == "own.example"
    assert t.cancelled == [first + WHL]

