"""An emulator in-process on a free loopback port, and the real ccxt client pointed at it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator


def fast(name: str = "crash", **settings: Any) -> Any:
    """A built-in scenario (as a dict) with settings changed, e.g. a faster clock."""
    from assistant.emulator.exchange.scenario import BUILTINS

    raw = BUILTINS[name]()
    raw["settings"] = {**raw.get("settings", {}), **settings}
    return raw


@pytest.fixture
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    marker = request.node.get_closest_marker("scenario")
    raw = marker.args[0] if marker else fast("crash", mark_interval=3600)
    emu = await Emulator(load_scenario(raw)).start()
    try:
        yield emu
    finally:
        await emu.stop()


def point_at(exchange: Any, base: str) -> Any:
    """Every REST base of ccxt's binance classes rewritten to the emulator (research §5.2)."""
    for key, value in list(exchange.urls["api"].items()):
        if isinstance(value, str):
            exchange.urls["api"][key] = re.sub(r"^https?://[^/]+", base, value)
    return exchange


def ccxt_client(rest_url: str) -> Any:
    """The real ccxt binanceusdm with every REST URL on the emulator (throttle off)."""
    exchange = ccxt.binanceusdm(
        {
            "apiKey": "emulator-key",
            "secret": "emulator-secret",
            "enableRateLimit": False,
            "options": {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}},
        }
    )
    point_at(exchange, rest_url)
    exchange.timeout_on_exit = 0
    return exchange


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[Any]:
    exchange = ccxt_client(emulator.urls["rest"])
    try:
        yield exchange
    finally:
        await exchange.close()
