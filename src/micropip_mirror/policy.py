"""How hard to try: timeouts, hedging, memory and hash rules, as one value object."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ConfigError


@dataclass(frozen=True)
class Policy:
    """Every knob of the fallback, with defaults meant for a hostile network.

    timeout: seconds an index request may stay silent (before its answer
        starts, or between two pieces of it) before the mirror counts as failed.
        It measures silence, not size: a big page that keeps arriving is not cut.
    download_timeout: the same silence limit for wheel and .metadata downloads.
    page_cap, download_cap: seconds one index page / one file may take in all,
        however steadily it arrives (a mirror trickling bytes forever fails).
    hedge_after: seconds to wait for a first answer before also asking the next
        mirror (the first valid answer wins and the other requests are aborted,
        but for index pages a mirror placed before the winner that is already
        answering is waited for: the order stays the preference among live
        mirrors); None waits for each mirror to succeed or fail in turn.
    first_hedge_after: while the mirror in front has not answered once in this
        session, index pages are asked of every mirror at once, and a later
        mirror's answer is used only once the ones before it have stayed silent
        this long (or failed): a dead first mirror, or eight, cost this one wait,
        and a live first mirror still serves. 0: the fastest answer wins (a
        faster but lagging mirror may then give older versions). None: no
        asking at once; hedge_after applies from the start. At most hedge_after.
    cooldown: seconds a mirror that failed or lagged stays at the back of the list.
    cache_ttl: seconds an index answer (or a 404) is reused without asking again.
    require_hashes: refuse wheels for which no mirror gives a sha256.
    """

    timeout: float = 5.0
    download_timeout: float = 30.0
    page_cap: float = 120.0
    download_cap: float = 900.0
    hedge_after: float | None = 1.0
    first_hedge_after: float | None = 0.25
    cooldown: float = 120.0
    cache_ttl: float = 300.0
    require_hashes: bool = False

    def __post_init__(self) -> None:
        for name in ("timeout", "download_timeout", "page_cap", "download_cap", "cooldown",
                     "cache_ttl"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
        if 0 in (self.timeout, self.download_timeout, self.page_cap, self.download_cap):
            raise ConfigError("timeouts must be > 0")
        if self.hedge_after is not None and (
            not isinstance(self.hedge_after, int | float) or self.hedge_after <= 0
        ):
            raise ConfigError(f"hedge_after must be > 0 or None, got {self.hedge_after!r}")
        if self.first_hedge_after is not None and (
            not isinstance(self.first_hedge_after, int | float) or self.first_hedge_after < 0
        ):
            raise ConfigError(f"first_hedge_after must be >= 0 or None, got {self.first_hedge_after!r}")

    def with_options(self, **options) -> Policy:
        unknown = set(options) - set(self.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return replace(self, **options)
