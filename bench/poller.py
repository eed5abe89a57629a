"""A reference polling monitor, what a user's script or freqtrade's loop does: every 5 s,
ccxt `fetch_positions` and `fetch_balance`, then our own margin math on what came back, and
an "alert" (a JSON line on stdout) when the margin ratio crosses the tier upwards.

    python -m bench.poller REST_URL TIER INTERVAL_SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal

from assistant.binance.rest import BinanceRest
from assistant.binance.wire import parse_leverage_brackets
from assistant.core.margin.book import MarginBook
from assistant.core.model import Account, Position, PositionSide

BAND = Decimal("0.02")


async def poll(rest_url: str, tier: Decimal, interval: float) -> None:
    rest = BinanceRest(api_key="emulator-key", api_secret="emulator-secret", rest_url=rest_url)
    exchange = rest.exchange  # ccxt binanceusdm, pointed at the emulator
    try:
        await exchange.load_markets()
        brackets = parse_leverage_brackets(await exchange.fapiPrivateGetLeverageBracket())
        above = False
        while True:
            started = time.monotonic()
            rows = await exchange.fetch_positions()
            balance = await exchange.fetch_balance()
            wallet = Decimal(str(balance["info"]["totalWalletBalance"]))
            positions, marks = [], {}
            for row in rows:
                raw = row["info"]
                amount = Decimal(raw["positionAmt"])
                if amount:
                    side = PositionSide(raw["positionSide"])
                    positions.append(
                        Position(raw["symbol"], side, amount, Decimal(raw["entryPrice"]))
                    )
                    marks[raw["symbol"]] = Decimal(raw["markPrice"])
            account = Account(wallet, tuple(positions), marks, {s: brackets[s] for s in marks})
            ratio = MarginBook.build(account).margin_ratio
            if ratio is None or ratio >= tier:
                if not above:
                    print(json.dumps({"alert_at": time.time(), "ratio": str(ratio)}), flush=True)
                above = True
            elif ratio < tier - BAND:
                above = False  # re-armed, with the same hysteresis as the assistant's rule
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        await rest.close()


if __name__ == "__main__":
    asyncio.run(poll(sys.argv[1], Decimal(sys.argv[2]), float(sys.argv[3])))
