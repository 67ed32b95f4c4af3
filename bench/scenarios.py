"""The benchmark's scenarios: which mirrors stand in front of the healthy one,
what is installed, who competes, and the target for b/c.

Two kinds: the bars S1..S6 (one size, one fault each) and the scaling curves,
one point per size:
  K-<fault>-<k>   k unhealthy mirrors (blackholed, refusing, slow 2 s) in front, k = 0, 1, 2, 4, 8
  W-<n>, W-<n>-bh workload of n = 18, 100, 300 packages, from the healthy mirror / one blackholed first
  P-<fmt>-<n>     a project page of n = 100, 1,000, 5,000 extra PyPI-shaped files, JSON or HTML, 1 MB/s
  NM              the standard workload from a mirror that serves no PEP 658 .metadata

Mirrors are named here and built by ``Mirrors`` on first use (each its own
origin: micropip-mirror merges duplicate URLs, so k dead mirrors are k servers).
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field

from shaper import Shaper
from tests.support.fault_server import Blackhole

import workloads

REQS = ["mm-wide==2.0.0", "mm-app==2.0.0", "mm-big==2.0.0"]  # 18 packages, one ~1 MB wheel
PAGE_PROJECT = "mm-lib-c"  # no dependencies: the install is one page, one .metadata, one wheel
KS = (0, 1, 2, 4, 8)
FAULTS = {"blackhole": "blackholed", "refused": "refusing", "slow": "slow (2 s)"}
PAGE_SIZES = (100, 1000, 5000)


@dataclass
class Scenario:
    key: str
    label: str
    front: list[str]  # mirror names in front of the healthy one
    healthy: str = "healthy"
    reqs: list[str] = field(default_factory=lambda: list(REQS))
    contenders: tuple[str, ...] = ("a", "b", "c")
    target: float | None = None  # b/c
    curve: str | None = None  # the curve it is a point of (None: the bar chart)
    x: int | None = None  # its size on that curve
    warm: bool = False  # S6: install, uninstall, time the same install again


def _bars() -> list[Scenario]:
    return [
        Scenario("S1", "all healthy (30 ms/request, 2 MB/s)", ["healthy-2"], target=1.02),
        Scenario("S2", "first mirror blackholed", ["blackhole-1"], target=1.10),
        Scenario("S3", "first mirror refuses connections", ["refused-1"], target=1.10),
        Scenario("S4", "first mirror slow (2 s per answer)", ["slow-1"], target=1.10),
        Scenario("S5", "first mirror stale (lacks newest versions)", ["stale"], target=1.10),
        Scenario("S6", "warm: S1 install again in the same page", ["healthy-2"], warm=True),
    ]


def _curves() -> list[Scenario]:
    out = []
    for fault, word in FAULTS.items():
        for k in KS[1:]:
            # Plain micropip takes every answer from the first slow mirror (a valid page after 2 s),
            # so its time does not depend on k: measured at k = 1 only.
            contenders = ("b", "c") if fault == "slow" and k > 1 else ("a", "b", "c")
            out.append(Scenario(f"K-{fault}-{k}", f"{k} {word} mirror{'s' * (k > 1)} in front",
                                [f"{fault}-{i}" for i in range(1, k + 1)], contenders=contenders,
                                target=1.3 if k == 8 else None, curve=f"K-{fault}", x=k))
    out.append(Scenario("K-0", "no mirror in front (the healthy one alone)", [], contenders=("b", "c"),
                        curve="K", x=0))
    for n in workloads.SIZES:
        reqs = [f"mm-scale-{n}=={workloads.VERSION}"]
        out.append(Scenario(f"W-{n}", f"{n} packages, healthy mirror only", [], reqs=reqs, contenders=("b", "c"),
                            target=1.05 if n == 300 else None, curve="W", x=n))
        out.append(Scenario(f"W-{n}-bh", f"{n} packages, one blackholed mirror first", ["blackhole-1"], reqs=reqs,
                            curve="W-bh", x=n))
    for fmt in ("json", "html"):
        for n in PAGE_SIZES:
            out.append(Scenario(f"P-{fmt}-{n}", f"page of {n:,} files, {fmt.upper()}, 1 MB/s", [],
                                healthy=f"page-{fmt}-{n}", reqs=[f"{PAGE_PROJECT}==2.0.0"], contenders=("b", "c"),
                                target=1.05 if n == 5000 else None, curve=f"P-{fmt}", x=n))
    out.append(Scenario("NM", "no .metadata on the mirror (wheels read for metadata)", [], healthy="nometa",
                        contenders=("b", "c"), target=1.05))
    return out


ALL = {s.key: s for s in _bars() + _curves()}
GROUPS = {"S": [k for k in ALL if k.startswith("S")], "K": [k for k in ALL if k.startswith("K")],
          "W": [k for k in ALL if k.startswith("W")], "P": [k for k in ALL if k.startswith("P")], "NM": ["NM"]}


def select(spec: str) -> list[Scenario]:
    """``S1,S2`` or groups ``S,K,W,P,NM`` or prefixes like ``K-slow``."""
    keys: list[str] = []
    for part in filter(None, spec.split(",")):
        found = GROUPS.get(part) or ([part] if part in ALL else [k for k in ALL if k.startswith(part + "-")])
        if not found:
            raise SystemExit(f"unknown scenario {part!r}; known: {', '.join(ALL)} or groups {', '.join(GROUPS)}")
        keys += [k for k in found if k not in keys]
    return [ALL[k] for k in keys]


class Mirrors:
    """Builds each named mirror once, on first use, inside ``stack``."""

    def __init__(self, stack: contextlib.ExitStack, fleet, latency: float, bandwidth: float):
        self.stack, self.fleet, self.latency, self.bandwidth = stack, fleet, latency, bandwidth
        self.urls: dict[str, str] = {}

    def url(self, name: str) -> str:
        if name not in self.urls:
            self.urls[name] = self._make(name)
        return self.urls[name]

    def _shaper(self, origin: str, latency=None, bandwidth=None, **shape) -> str:
        shaper = Shaper(origin, self.latency if latency is None else latency,
                        self.bandwidth if bandwidth is None else bandwidth, **shape)
        return self.stack.enter_context(shaper).origin + "/simple"

    def _make(self, name: str) -> str:
        up = self.fleet.origin("upstream")
        kind, _, size = name.partition("-")
        if kind == "healthy":
            return self._shaper(up)
        if kind == "blackhole":
            hole = Blackhole(name, lambda entry: None)
            self.stack.callback(hole.shutdown)
            return f"http://127.0.0.1:{hole.server_port}/simple"
        if kind == "refused":
            sock = self.stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
            return f"http://127.0.0.1:{sock.getsockname()[1]}/simple"
        if kind == "slow":
            return self._shaper(up, latency=2.0)
        if kind == "stale":
            return self._shaper(self.fleet.origin("stale"))
        if kind == "nometa":
            return self._shaper(up, no_metadata=True)
        if kind == "page":
            fmt, n = size.split("-")
            return self._shaper(up, bandwidth=1e6, html=fmt == "html", pad={PAGE_PROJECT: int(n)})
        raise KeyError(name)
