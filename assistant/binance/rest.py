"""BinanceRest: the account's REST surface over ccxt's async `binanceusdm`.

Where ccxt's exceptions become ours (`answers.classify`: by Binance's `code` and the HTTP
status, never by host name), and where request weight is accounted from the response headers
instead of ccxt's own throttle, which sleeps about 50 ms before every call.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt

from assistant.binance import account
from assistant.binance.answers import classify, json_object, reading
from assistant.binance.weights import Weights, budget_of
from assistant.binance.wire import (
    Transfer,
    parse_decimal,
    parse_exchange_info,
    parse_leverage_brackets,
    parse_transfers,
)
from assistant.core.events import (
    AccountSnapshotted,
    AssetIndexUpdated,
    BracketsLoaded,
    FiltersLoaded,
    SymbolFilters,
)
from assistant.core.model import PositionSide
from assistant.errors import BadResponse, ClockSkew, ExchangeError, RateLimited, Rejected

log = logging.getLogger(__name__)
# ccxt logs request headers (the API key) at DEBUG; never let them through.
logging.getLogger("ccxt").setLevel(logging.WARNING)

SNAPSHOT_MARGIN_MS = 250  # snapshots are dated this much early (plus the measured round trip)
# Chosen together (README, "Rules and actions"): Binance's default window, which it advises
# not to exceed; the client waits that long plus the executor's default lookup margin, when a
# lookup that finds nothing is conclusive anyway (waiting longer would gain nothing).
RECV_WINDOW_MS = 5_000
TIMEOUT_MS = 10_000


# ccxt ships no type information, so its classes are Any and subclassing one is an error
# under --strict; the attributes we read back are declared below with their real types.
class _Binance(ccxt.binanceusdm):  # type: ignore[misc]  # ccxt is untyped (see above)
    """ccxt's client, remembering the HTTP status of the last response."""

    last_http_status: int | None = None
    # Set by ccxt on every response (enableLastJsonResponse / enableLastResponseHeaders).
    last_json_response: object
    last_response_headers: dict[str, str] | None
    server_ms: Callable[[], int] | None = None  # BinanceRest's, set by BinanceRest

    def nonce(self) -> Any:
        """Every signed request's `timestamp`: our clock plus the measured offset (ccxt's own
        would read the host's time directly, past an injected clock)."""
        return super().nonce() if self.server_ms is None else self.server_ms()

    def on_rest_response(
        self,
        code: Any,
        reason: Any,
        url: Any,
        method: Any,
        headers: Any,
        body: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        self.last_http_status = int(code)
        return super().on_rest_response(
            code, reason, url, method, headers, body, request_headers, request_body
        )


class BinanceRest:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        rest_url: str = "",
        demo: bool = False,
        timeout_ms: int = TIMEOUT_MS,
        recv_window_ms: int = RECV_WINDOW_MS,
        clock: Callable[[], float] = time.time,
        on_sent: Callable[[str, str], None] | None = None,
    ) -> None:
        self.exchange = _Binance(
            {
                "apiKey": api_key,
                "secret": api_secret,
                "enableRateLimit": False,
                "timeout": timeout_ms,
                "options": {
                    "fetchCurrencies": False,
                    "fetchOpenOrders": {"warnWithoutSymbol": False},
                    "recvWindow": recv_window_ms,
                },
            }
        )
        if demo:
            self.exchange.enable_demo_trading(True)
        if rest_url:
            base = rest_url.rstrip("/")
            for key, value in list(self.exchange.urls["api"].items()):
                if isinstance(value, str):
                    self.exchange.urls["api"][key] = re.sub(r"^https?://[^/]+", base, value)
        self.exchange.timeout_on_exit = 0
        self.exchange.server_ms = self.server_ms
        self.recv_window_ms = recv_window_ms
        self._on_sent = on_sent
        self._session: aiohttp.ClientSession | None = None
        self.clock = clock
        self.offset_ms = 0  # Binance's clock minus ours, from sync_clock()
        self.clock_margin_ms = SNAPSHOT_MARGIN_MS
        self.multi_assets = False  # the mode the last snapshot found (it reads the index then)
        self.weights = Weights(clock)

    async def close(self) -> None:
        await self.exchange.close()
        if self._session is not None:
            await self._session.close()

    def _hook_session(self) -> None:
        """With `on_sent`, requests go through a session of ours whose trace reports each request
        the moment its body has left (a failpoint for "request in flight")."""
        if self._on_sent is None or self._session is not None:
            return
        on_sent = self._on_sent

        async def sent(session: Any, context: Any, params: Any) -> None:
            on_sent(params.method, params.url.path)

        trace = aiohttp.TraceConfig()
        trace.on_request_chunk_sent.append(sent)
        self._session = aiohttp.ClientSession(trace_configs=[trace])
        self.exchange.session = self._session
        self.exchange.own_session = False

    # ---- the one call path ------------------------------------------------------------------

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        stamp: Callable[[int], None] | None = None,
    ) -> object:
        """One REST call by ccxt's implicit method name; the decoded JSON body, unchecked.
        `stamp` (signed calls) is told the `timestamp` just before each request leaves: a
        -1021 is answered by a clock resync, then the request once more, newly stamped."""
        try:
            return await self._call_once(method, params, stamp)
        except ClockSkew as skew:
            log.warning("REST %s: %s; resyncing the clock, then once more", method, skew)
            try:
                await self.sync_clock()
            except ExchangeError as exc:
                log.warning("clock resync failed: %s", exc)
                raise skew from None
            # Safe for a money request too: -1021 means Binance refused the request for its
            # timestamp, a check made before the request is carried out, so the refused one
            # did nothing and this is the only one that can take effect.
            return await self._call_once(method, params, stamp)

    async def _call_once(
        self, method: str, params: dict[str, Any] | None, stamp: Callable[[int], None] | None
    ) -> object:
        self._hook_session()
        budget = budget_of(method)
        await self.weights.gate(budget)
        params = dict(params or {})
        if stamp is not None:
            params["timestamp"] = self.server_ms()  # what ccxt signs (a given one wins)
            stamp(params["timestamp"])
        ex = self.exchange
        ex.last_http_status = None
        ex.last_json_response = None
        ex.last_response_headers = {}
        try:
            return await getattr(ex, method)(params)
        except ccxt.BaseError as exc:
            headers = ex.last_response_headers or {}
            retry = headers.get("Retry-After")
            error = classify(
                exc, ex.last_http_status, ex.last_json_response, float(retry) if retry else None
            )
            if isinstance(error, RateLimited):
                self.weights.block(error.retry_after)
            log.warning("REST %s failed: %s", method, error)
            raise error from None
        except RecursionError:  # a body nested deeper than any JSON decoder goes
            raise BadResponse(f"REST {method}: an answer nested too deeply to read") from None
        finally:
            self.weights.account(budget, ex.last_response_headers or {})

    @property
    def used_weight(self) -> int:
        return self.weights.used.get("futures", 0)

    @property
    def weight_limit(self) -> int:
        return self.weights.limit

    # ---- what the service asks ----------------------------------------------------------------

    async def filters(self) -> FiltersLoaded:
        """exchangeInfo as an event: each symbol's tick, step, min quantity and notional."""
        await self.sync_clock()
        raw = await self.load_limits()
        table = {
            symbol: SymbolFilters(
                f.get("tick_size", Decimal("0.01")),
                f.get("step_size", Decimal("0.001")),
                f.get("min_qty", Decimal("0.001")),
                f.get("min_notional", Decimal(0)),
            )
            for symbol, f in raw.items()
        }
        return FiltersLoaded(table, int(self.clock() * 1000))

    async def load_limits(self) -> dict[str, dict[str, Decimal]]:
        """exchangeInfo: the weight limit, and each symbol's filters."""
        answer = await self.call("fapiPublicGetExchangeInfo")
        with reading("exchangeInfo"):
            limit, filters = parse_exchange_info(json_object(answer, "exchangeInfo"))
        self.weights.limit = limit or self.weights.limit
        return filters

    async def sync_clock(self) -> int:
        """Measure Binance's clock against ours (ms, server − local). Snapshots are stamped in
        Binance's time, so they compare right with stream events' `E`; signed requests are
        stamped with it too (`server_ms`), which keeps -1021 away on a drifting host."""
        before = self.clock()
        answer = await self.call("fapiPublicGetTime")
        after = self.clock()
        with reading("time"):
            server = int(json_object(answer, "time")["serverTime"])
        self.offset_ms = server - int((before + after) / 2 * 1000)
        self.clock_margin_ms = SNAPSHOT_MARGIN_MS + int((after - before) * 1000)
        return self.offset_ms

    def server_ms(self) -> int:
        return int(self.clock() * 1000) + self.offset_ms

    async def snapshot(self) -> AccountSnapshotted:
        return await account.snapshot(self)

    async def asset_index(self) -> AssetIndexUpdated:
        return await account.asset_index(self)

    async def portfolio_margin(self) -> bool:
        return await account.portfolio_margin(self)

    async def brackets(self) -> BracketsLoaded:
        payload = await self.call("fapiPrivateGetLeverageBracket")
        with reading("leverageBracket"):
            return BracketsLoaded(parse_leverage_brackets(payload), int(self.clock() * 1000))

    async def order_by_client_id(self, symbol: str, client_id: str) -> dict[str, Any] | None:
        try:
            result = await self.call(
                "fapiPrivateGetOrder", {"symbol": symbol, "origClientOrderId": client_id}
            )
        except Rejected as exc:
            if exc.code == -2013:
                return None
            raise
        with reading("order"):
            return json_object(result, "order")

    async def cancel_order(self, symbol: str, client_id: str) -> dict[str, Any] | None:
        """Cancel an open order by its client id; None if it is no longer open (filled,
        cancelled or unknown: -2011, -2013), which is what was wanted."""
        try:
            result = await self.call(
                "fapiPrivateDeleteOrder", {"symbol": symbol, "origClientOrderId": client_id}
            )
        except Rejected as exc:
            if exc.code in (-2011, -2013):
                return None
            raise
        with reading("cancelled order"):
            return json_object(result, "cancelled order")

    async def spot_free_usdt(self, asset: str = "USDT") -> Decimal:
        """The spot wallet's free balance of `asset`."""
        account = await self.call("privateGetAccount")
        with reading("spot account"):
            for balance in json_object(account, "spot account").get("balances", []):
                if balance.get("asset") == asset:
                    return parse_decimal(balance["free"], f"balances.{asset}.free")
        return Decimal(0)

    async def transfers_since(self, since_ms: int) -> list[Transfer]:
        """Spot → futures transfers from `since_ms` on (the newest 100), newest first."""
        result = await self.call(
            "sapiGetAssetTransfer", {"type": "MAIN_UMFUTURE", "startTime": since_ms, "size": 100}
        )
        with reading("transfer history"):
            return parse_transfers(result, "transfer history")

    async def add_isolated_margin(
        self,
        symbol: str,
        position_side: PositionSide,
        amount: Decimal,
        *,
        stamp: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Move `amount` USDT from the futures wallet into an isolated position's margin."""
        result = await self.call(
            "fapiPrivatePostPositionMargin",
            {
                "symbol": symbol,
                "positionSide": position_side.value,
                "amount": format(amount, "f"),
                "type": 1,  # 1 adds, 2 takes away
            },
            stamp=stamp,
        )
        with reading("isolated margin"):
            return json_object(result, "isolated margin")

    async def transfer_to_futures(
        self, amount: Decimal, *, stamp: Callable[[int], None] | None = None, asset: str = "USDT"
    ) -> int:
        """Spot → USDⓈ-M futures (MAIN_UMFUTURE takes any asset: USDT, USDC, BTC...)."""
        result = await self.call(
            "sapiPostAssetTransfer",
            {"type": "MAIN_UMFUTURE", "asset": asset, "amount": format(amount, "f")},
            stamp=stamp,
        )
        return int(json_object(result, "transfer")["tranId"])

    async def reduce_only(
        self,
        *,
        symbol: str,
        side: str,
        quantity: Decimal,
        client_id: str,
        position_side: str = "BOTH",
        stamp: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """A reduce-only MARKET order; in hedge mode by positionSide (Binance refuses
        reduceOnly there)."""
        params = {
            "symbol": symbol,
            "side": side,
            "type": "MARKET",
            "quantity": format(quantity, "f"),
            "newClientOrderId": client_id,
            "newOrderRespType": "RESULT",
        }
        if position_side == "BOTH":
            params["reduceOnly"] = "true"
        else:
            params["positionSide"] = position_side
        result = await self.call("fapiPrivatePostOrder", params, stamp=stamp)
        with reading("order"):  # BadResponse: the executor looks the order up by client id
            return json_object(result, "order")

    async def listen_key(self) -> str:
        answer = await self.call("fapiPrivatePostListenKey")
        return str(json_object(answer, "listenKey")["listenKey"])

    async def keep_alive(self) -> None:
        await self.call("fapiPrivatePutListenKey")

    async def close_listen_key(self) -> None:
        await self.call("fapiPrivateDeleteListenKey")
