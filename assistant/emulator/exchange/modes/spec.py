"""The account part of a scenario: a wallet per asset, the account mode (single-asset,
Multi-Assets, credits, Portfolio Margin) and the asset index of each collateral asset.

Defaults (docs/emulator.md): USDT, USDC, FDUSD and BNFCR at index 1 with no buffers; any other
asset's index follows its USDT symbol's mark (BTC ← BTCUSDT), with a 5% bid and ask buffer for
BTC, ETH and BNB and 10% for the rest; the auto-exchange buffers are half the margin buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.errors import InputError

D = Decimal
ZERO = D(0)
STABLE = ("USDT", "USDC", "FDUSD", "BNFCR")
MAJOR = ("BTC", "ETH", "BNB")  # 5% haircut (Binance's Multi-Assets FAQ); others 10%
MAJOR_BUFFER, OTHER_BUFFER = D("0.05"), D("0.1")
INDEX_KEYS = (
    "index",
    "bidBuffer",
    "askBuffer",
    "autoExchangeBidBuffer",
    "autoExchangeAskBuffer",
)


@dataclass(frozen=True)
class AssetIndex:
    """One asset's entry of GET /fapi/v1/assetIndex: a fixed index, or the mark it follows."""

    asset: str
    index: Decimal | None
    follows: str | None  # the symbol whose mark is the index when `index` is None
    bid_buffer: Decimal
    ask_buffer: Decimal
    auto_bid_buffer: Decimal
    auto_ask_buffer: Decimal

    @property
    def symbol(self) -> str:
        return f"{self.asset}USD"


@dataclass(frozen=True)
class AccountSpec:
    futures: dict[str, Decimal]
    multi_assets: bool = False
    credits: bool = False
    portfolio_margin: bool = False
    asset_index: tuple[AssetIndex, ...] = ()
    algo_orders: tuple[dict[str, Any], ...] = ()


def scenario_number(value: Any, where: str) -> Decimal:
    """A finite number of a scenario, or one line that names its key."""
    try:
        number = D(str(value))
    except InvalidOperation:
        raise InputError(f"scenario {where}: not a number: {value!r}") from None
    if not number.is_finite():
        raise InputError(f"scenario {where}: not a finite number")
    return number


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"scenario {key}: true or false")
    return value


def margin_asset_of(name: str, raw: dict[str, Any]) -> str:
    """A symbol's margin asset: `marginAsset` if given, else its quote (USDC or USDT)."""
    given = raw.get("marginAsset")
    if given is not None:
        if not isinstance(given, str) or not given.isalnum():
            raise InputError(f"scenario symbols.{name}.marginAsset: an asset name")
        return given.upper()
    return "USDC" if name.endswith("USDC") else "USDT"


def parse_account(raw: dict[str, Any], margin_assets: dict[str, str]) -> AccountSpec:
    """The account keys of a scenario; `margin_assets` maps each symbol to its margin asset."""
    credits = _flag(raw, "credits")
    portfolio = _flag(raw, "portfolio_margin")
    multi = _flag(raw, "multi_assets") or credits
    given = raw.get("futures", {"USDT": "1000"})
    if not isinstance(given, dict):
        raise InputError("scenario futures: an object of asset → amount")
    futures = {str(k).upper(): scenario_number(v, f"futures.{k}") for k, v in given.items()}
    futures.setdefault("USDT", ZERO)
    if credits:
        futures.setdefault("BNFCR", ZERO)
    if not (multi or portfolio):
        for asset, amount in futures.items():
            if amount < 0:
                raise InputError(
                    f"scenario futures.{asset}: a negative balance needs Multi-Assets mode"
                )
    if multi:
        for i, pos in enumerate(raw.get("positions", [])):
            if str(pos.get("marginType", "cross")).lower() == "isolated":
                raise InputError(f"scenario positions[{i}]: Multi-Assets mode is cross margin only")
    algo = raw.get("algo_orders", [])
    if not isinstance(algo, list) or not all(isinstance(a, dict) for a in algo):
        raise InputError("scenario algo_orders: a list of objects")
    for i, order in enumerate(algo):
        if str(order.get("symbol", "")).upper() not in margin_assets:
            raise InputError(f"scenario algo_orders[{i}]: unknown or missing symbol")
    wanted = set(futures) | set(margin_assets.values())
    if credits:
        wanted.add("BNFCR")
    return AccountSpec(
        futures=futures,
        multi_assets=multi,
        credits=credits,
        portfolio_margin=portfolio,
        asset_index=_indexes(raw.get("asset_index", {}), wanted, set(margin_assets)),
        algo_orders=tuple(algo),
    )


def _indexes(given: Any, wanted: set[str], symbols: set[str]) -> tuple[AssetIndex, ...]:
    if not isinstance(given, dict):
        raise InputError("scenario asset_index: an object keyed by index symbol (USDTUSD)")
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in given.items():
        name = str(name).upper()
        if not name.endswith("USD") or len(name) < 4 or not isinstance(entry, dict):
            raise InputError(f"scenario asset_index.{name}: an object under ASSETUSD")
        unknown = set(entry) - set(INDEX_KEYS)
        if unknown:
            raise InputError(f"scenario asset_index.{name}: unknown key {sorted(unknown)[0]}")
        entries[name.removesuffix("USD")] = entry
    assets = wanted | set(entries) | {a for a in MAJOR if f"{a}USDT" in symbols}
    return tuple(_index(a, entries.get(a, {}), symbols) for a in sorted(assets))


def _index(asset: str, entry: dict[str, Any], symbols: set[str]) -> AssetIndex:
    where = f"asset_index.{asset}USD"
    values = {k: scenario_number(v, f"{where}.{k}") for k, v in entry.items()}
    index, follows = values.get("index"), None
    if index is None:
        if asset in STABLE:
            index = D(1)
        elif f"{asset}USDT" in symbols:
            follows = f"{asset}USDT"
        else:
            raise InputError(
                f"scenario asset {asset}: no index for it: list {asset}USDT in symbols"
                f" or give {where}.index"
            )
    elif index <= 0:
        raise InputError(f"scenario {where}.index: must be positive")
    default = ZERO if asset in STABLE else MAJOR_BUFFER if asset in MAJOR else OTHER_BUFFER
    bid = values.get("bidBuffer", default)
    ask = values.get("askBuffer", default)
    auto_bid = values.get("autoExchangeBidBuffer", bid / 2)
    auto_ask = values.get("autoExchangeAskBuffer", ask / 2)
    for key, value in (
        ("bidBuffer", bid),
        ("askBuffer", ask),
        ("autoExchangeBidBuffer", auto_bid),
        ("autoExchangeAskBuffer", auto_ask),
    ):
        if not ZERO <= value < 1:
            raise InputError(f"scenario {where}.{key}: from 0 up to (not including) 1")
    return AssetIndex(asset, index, follows, bid, ask, auto_bid, auto_ask)
