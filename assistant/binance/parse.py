"""Binance stream frames to `core.events`: pure functions, wire names stop here (REST bodies
are read in `snapshot.py`).

A frame that cannot be understood is not an error for the caller to crash on: it comes back
as `Skipped` with the reason, for the stream adapter to log and count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assistant.binance.rows import algo_order, asset_rate, open_order
from assistant.binance.wire import parse_decimal, parse_int, parse_margin_type, parse_side
from assistant.core.events import (
    AccountModeChanged,
    AlgoOrderUpdated,
    AssetIndexUpdated,
    BalanceAndPositionUpdated,
    Event,
    LeverageChanged,
    ListenKeyExpired,
    MarginCallReceived,
    MarkPriceUpdated,
    OrderUpdated,
    PositionChange,
)
from assistant.errors import InputError

SYMBOL = re.compile(r"[A-Z0-9]{2,30}")
# Events we know and deliberately do not mirror.
KNOWN_UNUSED = {
    "TRADE_LITE",
    "CONDITIONAL_ORDER_TRIGGER_REJECT",
    "STRATEGY_UPDATE",
    "GRID_UPDATE",
}


# What a frame that is not shaped as Binance's raises while it is read (nested too deeply
# included): it is skipped as malformed, never a crash.
MALFORMED = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    InputError,
    RecursionError,
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A frame that yields no event: `malformed` ones are counted as errors."""

    reason: str
    malformed: bool


def _load(frame: str | bytes | Mapping[str, Any] | list[Any]) -> Any:
    if isinstance(frame, (str, bytes)):
        return json.loads(frame, parse_float=Decimal)
    return frame


def _unwrap(data: Any) -> Any:
    if isinstance(data, Mapping) and "data" in data and "stream" in data:
        return data["data"]
    return data


def parse_user_frame(frame: str | bytes | Mapping[str, Any]) -> Event | Skipped:
    """One user-data frame (raw or `{"stream","data"}`-wrapped) to an event."""
    try:
        data = _unwrap(_load(frame))
        if not isinstance(data, Mapping):
            return Skipped("not a JSON object", True)
        kind = data.get("e")
        if kind == "ACCOUNT_UPDATE":
            return _account_update(data)
        if kind == "ORDER_TRADE_UPDATE":
            return _order_update(data)
        if kind == "ACCOUNT_CONFIG_UPDATE":
            return _config_update(data)
        if kind == "ALGO_UPDATE":
            return _algo_update(data)
        if kind == "MARGIN_CALL":
            cw = data.get("cw")
            rows = data.get("p") or []
            return MarginCallReceived(
                _time(data, "E"),
                None if cw is None else parse_decimal(cw, "cw"),
                tuple(str(r["s"]).upper() for r in rows),
            )
        if kind == "listenKeyExpired":
            return ListenKeyExpired(_time(data, "E"))
        if kind in KNOWN_UNUSED:
            return Skipped(f"{kind} is not mirrored", False)
        return Skipped(f"unknown event type {str(kind)[:40]!r}", True)
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def parse_market_frame(
    frame: str | bytes | Mapping[str, Any] | list[Any],
) -> list[MarkPriceUpdated] | Skipped:
    """A mark-price frame: one `markPriceUpdate`, or the `!markPrice@arr` array."""
    try:
        return _marks(_unwrap(_load(frame)))
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def parse_market_event(
    frame: str | bytes | Mapping[str, Any] | list[Any],
) -> list[MarkPriceUpdated] | AssetIndexUpdated | Skipped:
    """Any frame of the market socket: mark prices (`markPriceUpdate`, one or the array), or
    the asset index (`assetIndexUpdate`: `!assetIndex@arr`'s array, or one asset's object)."""
    try:
        data = _unwrap(_load(frame))
        first = data[0] if isinstance(data, list) and data else data
        if isinstance(first, Mapping) and first.get("e") == "assetIndexUpdate":
            return _asset_index(data)
        return _marks(data)
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def _marks(data: Any) -> list[MarkPriceUpdated] | Skipped:
    if isinstance(data, Mapping) and "result" in data and "id" in data:
        return Skipped("subscription reply", False)
    items = data if isinstance(data, list) else [data]
    updates = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("e") != "markPriceUpdate":
            return Skipped("not a markPriceUpdate", True)
        price = parse_decimal(item["p"], "p")
        if price <= 0:
            return Skipped("mark price not positive", True)
        symbol = item["s"]
        if not isinstance(symbol, str) or not SYMBOL.fullmatch(symbol):
            return Skipped("not a symbol name", True)
        updates.append(MarkPriceUpdated(symbol, price, _time(item, "E")))
    return updates


def _asset_index(data: Any) -> AssetIndexUpdated | Skipped:
    """`assetIndexUpdate` rows: `s` the index symbol (BTCUSD: asset BTC), `i` the index, `B`
    the bid rate (a balance's value), `A` the ask rate (a debt's and a margin's); the newest
    `E` of the frame dates it."""
    items = data if isinstance(data, list) else [data]
    rates, newest = [], 0
    for n, item in enumerate(items):
        if not isinstance(item, Mapping) or item.get("e") != "assetIndexUpdate":
            return Skipped("not an assetIndexUpdate", True)
        rates.append(asset_rate(item["s"], item["i"], item["B"], item["A"], f"[{n}]"))
        newest = max(newest, _time(item, "E"))
    return AssetIndexUpdated(tuple(rates), newest)


def _time(data: Mapping[str, Any], key: str) -> int:
    """Event times are ints, except `listenKeyExpired.E`, which Binance has sent as a string."""
    return parse_int(data[key], key)


def _change(row: Mapping[str, Any], where: str) -> PositionChange:
    margin = row.get("mt")
    wallet = row.get("iw")
    asset = row.get("ma")  # the margin asset: in real frames, not in Binance's example
    return PositionChange(
        symbol=str(row["s"]).upper(),
        side=parse_side(row.get("ps", "BOTH"), f"{where}.ps"),
        amount=parse_decimal(row["pa"], f"{where}.pa"),
        entry_price=parse_decimal(row["ep"], f"{where}.ep"),
        margin_type=None if margin is None else parse_margin_type(margin, f"{where}.mt"),
        isolated_wallet=None if wallet is None else parse_decimal(wallet, f"{where}.iw"),
        margin_asset=str(asset).upper() if isinstance(asset, str) and asset else None,
    )


def _account_update(data: Mapping[str, Any]) -> BalanceAndPositionUpdated:
    """ACCOUNT_UPDATE: `B` the cross wallet (`cw`) of each asset that changed, `P` each
    position that changed. Only what changed is sent: an asset or a position not in it is
    as it was."""
    body = data["a"]
    wallets: dict[str, Decimal] = {}
    for i, row in enumerate(body.get("B") or []):
        asset = row["a"]
        if not isinstance(asset, str) or not asset:
            raise InputError(f"B[{i}].a: expected an asset name")
        wallets[asset.upper()] = parse_decimal(row["cw"], f"B[{i}].cw")
    changes = tuple(_change(row, f"P[{i}]") for i, row in enumerate(body.get("P") or []))
    return BalanceAndPositionUpdated(
        str(body.get("m", "")), _time(data, "E"), wallets.get("USDT"), changes, wallets
    )


def _order_update(data: Mapping[str, Any]) -> OrderUpdated:
    o = data["o"]
    return OrderUpdated(_time(data, "E"), open_order(o, rest=False), str(o["X"]), str(o["x"]))


def _algo_update(data: Mapping[str, Any]) -> AlgoOrderUpdated:
    order, status = algo_order(data["o"], rest=False)
    return AlgoOrderUpdated(_time(data, "E"), order, status)


def _config_update(data: Mapping[str, Any]) -> Event | Skipped:
    """ACCOUNT_CONFIG_UPDATE: `ac` a symbol's leverage, `ai` the Multi-Assets mode."""
    if "ai" in data:
        switched = data["ai"]["j"]
        if not isinstance(switched, bool):
            return Skipped("ACCOUNT_CONFIG_UPDATE ai.j is not a boolean", True)
        return AccountModeChanged(switched, _time(data, "E"))
    if "ac" in data:
        ac = data["ac"]
        return LeverageChanged(str(ac["s"]).upper(), parse_int(ac["l"], "ac.l"), _time(data, "E"))
    return Skipped("ACCOUNT_CONFIG_UPDATE without a leverage or mode change", False)
