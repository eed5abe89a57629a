"""Request weight, accounted from Binance's own response headers instead of ccxt's throttle
(which sleeps about 50 ms before every call): futures (fapi) and spot (api, sapi) have
separate per-minute budgets; near a budget's limit we pause until the next minute, and a 429
or a ban blocks every request until its Retry-After has passed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)
WEIGHT_HEADROOM = 0.9  # pause before using more than this share of the minute's weight
SPOT_WEIGHT_LIMIT = 6000  # Binance's spot REQUEST_WEIGHT per minute (api/v3 and sapi)


def budget_of(method: str) -> str:
    """Binance counts futures (fapi) and spot (api, sapi) weight separately."""
    return "futures" if method.startswith("fapi") else "spot"


class Weights:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.limit = 2400  # futures; read from exchangeInfo
        self.used: dict[str, int] = {}
        self.window: dict[str, int] = {}
        self.blocked_until = 0.0

    def block(self, seconds: float) -> None:
        """A 429 or a ban: nothing is sent before `seconds` have passed."""
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    def account(self, budget: str, headers: Mapping[str, str]) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("x-mbx-used-weight-1m")
        if used is not None:
            self.used[budget] = int(used)
            self.window[budget] = int(self.clock() // 60)

    async def gate(self, budget: str) -> None:
        """Wait out a ban or a 429, and pause near this budget's weight limit for the minute."""
        now = self.clock()
        if now < self.blocked_until:
            await asyncio.sleep(self.blocked_until - now)
            now = self.clock()
        window = self.window.get(budget, -1)
        limit = self.limit if budget == "futures" else SPOT_WEIGHT_LIMIT
        if int(now // 60) != window:
            self.used[budget] = 0
        elif self.used.get(budget, 0) >= limit * WEIGHT_HEADROOM:
            log.warning(
                "%s request weight %s of %s this minute: pausing", budget, self.used[budget], limit
            )
            await asyncio.sleep((window + 1) * 60 - now)
