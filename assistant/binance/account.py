"""What the service reads of the account over REST, in every USDⓈ-M account mode: the
snapshot (wallets per asset, positions with their margin asset, the account's configuration,
open and conditional orders, and the asset index in Multi-Assets mode), the asset index on its
own, and the Portfolio Margin probe. `BinanceRest` answers these by delegating here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from assistant.binance.answers import json_object, reading
from assistant.binance.snapshot import parse_account_config, parse_asset_index, parse_snapshot
from assistant.core.events import AccountSnapshotted, AssetIndexUpdated
from assistant.errors import ExchangeError

log = logging.getLogger(__name__)
ACCOUNT_CALLS = (
    "fapiPrivateV3GetAccount",
    "fapiPrivateV3GetPositionRisk",
    "fapiPrivateGetSymbolConfig",
    "fapiPrivateGetOpenOrders",
    "fapiPrivateGetAccountConfig",  # multiAssetsMargin and dualSidePosition in one call
    "fapiPrivateGetOpenAlgoOrders",
)
ASSET_INDEX = "fapiPublicGetAssetIndex"


class Caller(Protocol):
    clock_margin_ms: int
    multi_assets: bool  # the mode the last snapshot found

    def call(self, method: str, params: dict[str, Any] | None = None) -> Awaitable[object]: ...
    def server_ms(self) -> int: ...


async def snapshot(rest: Caller) -> AccountSnapshotted:
    """One REST picture of the account. Dated a little early, for the error of the clock
    measurement: stream events after that moment are applied again on top of it, which is
    safe (they carry absolute values); dropping one the reads missed would not be.

    The asset index is read with the rest when the last snapshot found Multi-Assets mode, and
    after them when this one finds it switched on; in single-asset mode it is not read."""
    taken_at = rest.server_ms() - rest.clock_margin_ms
    calls = [rest.call(name) for name in ACCOUNT_CALLS]
    if rest.multi_assets:
        calls.append(rest.call(ASSET_INDEX))
    account, risk, config, orders, account_config, algo, *index = await asyncio.gather(*calls)
    with reading("accountConfig"):
        multi_assets, _ = parse_account_config(json_object(account_config, "accountConfig"))
    if multi_assets and not index:
        index = [await rest.call(ASSET_INDEX)]
    if multi_assets != rest.multi_assets:
        log.info("the account is in %s mode", "Multi-Assets" if multi_assets else "single-asset")
    rest.multi_assets = multi_assets
    with reading("account snapshot"):
        return parse_snapshot(
            taken_at=taken_at,
            account=account,
            position_risk=risk,
            symbol_config=config,
            open_orders=orders,
            account_config=account_config,
            algo_orders=algo,
            asset_index=index[0] if multi_assets else None,
        )


async def asset_index(rest: Caller) -> AssetIndexUpdated:
    """GET /fapi/v1/assetIndex as an event: every collateral asset's USD rates."""
    payload = await rest.call(ASSET_INDEX)
    with reading("assetIndex"):
        return AssetIndexUpdated(parse_asset_index(payload), rest.server_ms())


async def portfolio_margin(rest: Caller) -> bool:
    """True if the key reads GET /papi/v1/account: the account is in Portfolio Margin, where
    Binance answers fapi's account calls with -2015 (no fapi user data for such accounts)."""
    try:
        answer = await rest.call("papiGetAccount")
    except ExchangeError as exc:
        log.info("not a Portfolio Margin account (GET /papi/v1/account: %s)", exc)
        return False
    return isinstance(answer, dict)
