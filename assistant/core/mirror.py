"""The mirror: one reducer, `apply(state, event) -> state`, for websocket and REST alike.

The REST snapshot is the base; stream events newer than it are applied on top. An
ACCOUNT_UPDATE or ORDER_TRADE_UPDATE older than the latest snapshot is already in it and is
not re-applied. Health (`MarginBook`) is kept alongside and updated incrementally on marks.

A held symbol without a bracket table (dropped from the exchange's answer, or newly listed
since the last load) is not left without health: once the exchange's brackets have come with a
fallback rate (`BracketsLoaded.fallback_mmr`), the symbol is computed with a one-tier table at
`assumed[symbol]`, the higher of that rate and the highest rate the held positions' own tables
give them, fixed while the assumption lasts, until its real table arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from assistant.core.events import (
    AccountModeChanged,
    AccountSnapshotted,
    AlgoOrder,
    AlgoOrderUpdated,
    AssetIndexUpdated,
    BalanceAndPositionUpdated,
    BracketsLoaded,
    Event,
    ExchangeFigures,
    FiltersLoaded,
    LeverageChanged,
    MarkPriceUpdated,
    OpenOrder,
    OrderUpdated,
    PositionChange,
    QuoteUpdated,
    StreamConnected,
    StreamDisconnected,
    SymbolFilters,
)
from assistant.core.fallbacks import assumed_rates, assumed_table, collateral
from assistant.core.margin.book import MarginBook
from assistant.core.margin.pools import (
    CREDITS,
    link_symbol,
    multi_assets_pool,
    quote_asset,
    single_asset_pools,
    unit,
    worst,
)
from assistant.core.model import (
    ZERO,
    AccountMode,
    AssetRate,
    BracketTable,
    MarginType,
    Position,
    PositionSide,
)
from assistant.core.shadow import Quote, marked, quoted

Key = tuple[str, PositionSide]
RECENT_LIMIT = 1000  # stream events kept for re-application (each snapshot clears them)
OPEN_STATUSES = {"NEW", "PARTIALLY_FILLED"}
OPEN_ALGO_STATUSES = {"NEW", "TRIGGERING"}


@dataclass(frozen=True, slots=True)
class MirrorState:
    wallet_balance: Decimal = ZERO  # USDT's cross wallet (also in `wallets`)
    hedge_mode: bool = False
    positions: Mapping[Key, PositionChange] = field(default_factory=dict)
    leverage: Mapping[str, int] = field(default_factory=dict)
    margin_types: Mapping[str, MarginType] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    mark_at: Mapping[str, int] = field(default_factory=dict)
    brackets: Mapping[str, BracketTable] = field(default_factory=dict)
    open_orders: Mapping[int, OpenOrder] = field(default_factory=dict)
    exchange: ExchangeFigures | None = None
    snapshot_at: int = 0  # taken_at of the latest REST snapshot; 0 = none yet
    updated_at: int = 0  # newest event time applied
    connected: Mapping[str, bool] = field(default_factory=dict)
    filters: Mapping[str, SymbolFilters] = field(default_factory=dict)
    # Account and order events newer than the latest snapshot, re-applied on top of the next
    # one: its REST reads may have happened before them.
    recent: tuple[BalanceAndPositionUpdated | OrderUpdated | LeverageChanged, ...] = ()
    book: MarginBook | None = None  # None until every held symbol has a mark and brackets
    # The rate assumed for a held symbol without brackets (None until brackets were loaded),
    # and the held symbols computed with it now, each at the rate it was first assumed at.
    fallback_mmr: Decimal | None = None
    assumed: Mapping[str, Decimal] = field(default_factory=dict)
    # Every asset's cross wallet, each symbol's margin asset (positionRisk v3), the account's
    # mode, the asset index (Multi-Assets) with the mark each linked asset's rates were sampled
    # at, and the conditional orders of Binance's algo service.
    wallets: Mapping[str, Decimal] = field(default_factory=dict)
    margin_assets: Mapping[str, str] = field(default_factory=dict)
    multi_assets: bool = False
    rates: Mapping[str, AssetRate] = field(default_factory=dict)
    rate_links: Mapping[str, tuple[str, Decimal]] = field(default_factory=dict)
    algo_orders: Mapping[int, AlgoOrder] = field(default_factory=dict)
    pools: Mapping[str, MarginBook] = field(default_factory=dict)  # derived, like `book`
    # The marks of the latest REST snapshot: the moment the exchange's figures are of.
    snapshot_marks: Mapping[str, Decimal] = field(default_factory=dict)
    # The shadow mark's estimator per symbol whose book is followed (`core.shadow`): it
    # never enters the margin book, which is computed from real marks only.
    quotes: Mapping[str, Quote] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.snapshot_at > 0 and self.book is not None

    @property
    def account_mode(self) -> AccountMode:
        if not self.multi_assets:
            return AccountMode.SINGLE
        return AccountMode.CREDITS if CREDITS in self.wallets else AccountMode.MULTI

    @property
    def assumptions(self) -> tuple[str, ...]:
        """Figures computed from an assumption rather than from Binance's data, in words."""
        said = []
        if self.multi_assets and CREDITS in self.wallets and CREDITS not in self.rates:
            said.append(
                "BNFCR credits are valued at 1 USD (Binance publishes no index for them;"
                " not verified)"
            )
        return tuple(said)

    def margin_asset(self, symbol: str) -> str:
        return self.margin_assets.get(symbol) or quote_asset(symbol)

    @property
    def held_symbols(self) -> frozenset[str]:
        return frozenset(sym for sym, _ in self.positions)

    @property
    def missing_brackets(self) -> frozenset[str]:
        """Held symbols with no bracket table of their own (assumed or not computed)."""
        if self.book is not None and not self.assumed:
            return frozenset()  # a book needs a table for every held symbol
        return frozenset(s for s in self.held_symbols if s not in self.brackets)


def why_not_ready(state: MirrorState) -> str:
    """What keeps health from being computed, in words (for the alert that says so)."""
    if state.snapshot_at == 0:
        return "no account snapshot yet"
    held = sorted(state.held_symbols)
    no_mark = [s for s in held if s not in state.marks]
    if no_mark:
        return f"no mark price for {', '.join(no_mark)}"
    no_table = [s for s in held if s not in state.brackets and s not in state.assumed]
    if no_table:
        return f"no leverage brackets for {', '.join(no_table)}"
    if state.multi_assets:
        needed = {state.margin_asset(s) for s in held} | {a for a, v in state.wallets.items() if v}
        no_rate = sorted(a for a in needed if a not in state.rates and a != CREDITS)
        if no_rate:
            return f"no asset index (Multi-Assets rates) for {', '.join(no_rate)}"
    if state.book is None:
        return "the positions do not add up (a one-way/hedge switch in progress?)"
    return "nothing: health is computed"


def apply(state: MirrorState, event: Event) -> MirrorState:
    """The state after `event`. Pure; unknown event kinds leave the state as it was."""
    if isinstance(event, MarkPriceUpdated):
        return _mark(state, event)
    if isinstance(event, QuoteUpdated):
        quote = quoted(state.quotes.get(event.symbol), event)
        return replace(state, quotes={**state.quotes, event.symbol: quote})
    if isinstance(event, AccountSnapshotted):
        return _snapshot(state, event)
    if isinstance(event, (BalanceAndPositionUpdated, OrderUpdated, LeverageChanged)):
        if event.event_at < state.snapshot_at:
            return state  # already part of the snapshot
        recent = (*state.recent, event)[-RECENT_LIMIT:]
        return _stream_event(replace(state, recent=recent), event)
    if isinstance(event, AlgoOrderUpdated):
        return _algo(state, event)
    if isinstance(event, AccountModeChanged):
        if event.multi_assets == state.multi_assets:
            return state
        return _rebuilt(replace(state, multi_assets=event.multi_assets))
    if isinstance(event, AssetIndexUpdated):
        return _rebuilt(_with_rates(state, event.rates))
    if isinstance(event, BracketsLoaded):
        fallback = state.fallback_mmr if event.fallback_mmr is None else event.fallback_mmr
        brackets = {**state.brackets, **event.brackets}
        return _rebuilt(replace(state, brackets=brackets, fallback_mmr=fallback))
    if isinstance(event, FiltersLoaded):
        return replace(state, filters={**state.filters, **event.filters})
    if isinstance(event, StreamConnected):
        return replace(state, connected={**state.connected, event.stream: True})
    if isinstance(event, StreamDisconnected):
        return replace(state, connected={**state.connected, event.stream: False})
    return state


def _stream_event(
    state: MirrorState, event: BalanceAndPositionUpdated | OrderUpdated | LeverageChanged
) -> MirrorState:
    if isinstance(event, BalanceAndPositionUpdated):
        return _account_update(state, event)
    if isinstance(event, OrderUpdated):
        return _order(state, event)
    leverage = {**state.leverage, event.symbol: event.leverage}
    return _rebuilt(
        replace(state, leverage=leverage, updated_at=max(state.updated_at, event.event_at))
    )


def _mark(state: MirrorState, event: MarkPriceUpdated) -> MirrorState:
    symbol = event.symbol
    if event.event_at < state.mark_at.get(symbol, 0):
        return state  # an older mark than the one we have
    quote = state.quotes.get(symbol)
    if quote is not None:  # the estimate made since the previous mark is measured
        state = replace(
            state, quotes={**state.quotes, symbol: marked(quote, event.price, event.event_at)}
        )
    marks = dict(state.marks)
    marks[symbol] = event.price
    mark_at = dict(state.mark_at)
    mark_at[symbol] = event.event_at
    book = state.book
    pools = state.pools
    if book is None and symbol in state.held_symbols:
        return _rebuilt(replace(state, marks=marks, mark_at=mark_at))
    if book is not None:
        moved = [a for a, pool in pools.items() if symbol in pool.account.marks]
        if moved:
            pools = dict(pools)
            for asset in moved:
                pools[asset] = pools[asset].with_mark(symbol, event.price)
            book = pools[moved[0]] if len(pools) == 1 else worst(pools)
    return replace(
        state,
        marks=marks,
        mark_at=mark_at,
        book=book,
        pools=pools,
        updated_at=max(state.updated_at, event.event_at),
    )


def _snapshot(state: MirrorState, event: AccountSnapshotted) -> MirrorState:
    if event.taken_at < state.snapshot_at:
        return state  # an older snapshot that arrived late: the newer one stands
    marks = dict(state.marks)
    mark_at = dict(state.mark_at)
    for symbol, price in event.marks.items():
        if mark_at.get(symbol, 0) <= event.taken_at:
            marks[symbol] = price
            mark_at[symbol] = event.taken_at
    wallets = dict(event.wallets) or {**state.wallets, "USDT": event.wallet_balance}
    wallets["USDT"] = event.wallet_balance
    margin_assets = dict(state.margin_assets)
    for change in event.positions:
        if change.margin_asset:
            margin_assets[change.symbol] = change.margin_asset
    fresh = replace(
        state,
        wallet_balance=event.wallet_balance,
        wallets=wallets,
        margin_assets=margin_assets,
        multi_assets=event.multi_assets,
        algo_orders={o.algo_id: o for o in event.algo_orders},
        hedge_mode=event.hedge_mode,
        positions={(p.symbol, p.side): p for p in event.positions if p.amount},
        leverage={**state.leverage, **event.leverage},
        margin_types={**state.margin_types, **event.margin_types},
        marks=marks,
        mark_at=mark_at,
        open_orders={o.order_id: o for o in event.open_orders},
        exchange=event.exchange,
        snapshot_at=event.taken_at,
        snapshot_marks=dict(event.marks),
        updated_at=max(state.updated_at, event.taken_at),
        recent=(),
    )
    if event.rates:
        fresh = _with_rates(fresh, event.rates)
    # Stream events at or after the moment the snapshot was taken may not be in its REST
    # reads: they carry absolute values, so applying them again on top is safe.
    for later in state.recent:
        if later.event_at >= event.taken_at:
            fresh = _stream_event(replace(fresh, recent=(*fresh.recent, later)), later)
    return _rebuilt(fresh)


def _account_update(state: MirrorState, event: BalanceAndPositionUpdated) -> MirrorState:
    positions = dict(state.positions)
    margin_types = dict(state.margin_types)
    for change in event.positions:
        key = (change.symbol, change.side)
        if change.margin_type is not None:
            margin_types[change.symbol] = change.margin_type
        if change.amount:
            positions[key] = change
        else:
            positions.pop(key, None)
    wallet = state.wallet_balance if event.cross_wallet is None else event.cross_wallet
    wallets = {**state.wallets, **event.wallets, "USDT": wallet}
    return _rebuilt(
        replace(
            state,
            wallet_balance=wallet,
            wallets=wallets,
            positions=positions,
            margin_types=margin_types,
            updated_at=max(state.updated_at, event.event_at),
        )
    )


def _order(state: MirrorState, event: OrderUpdated) -> MirrorState:
    orders = dict(state.open_orders)
    if event.status in OPEN_STATUSES:
        orders[event.order.order_id] = event.order
    else:
        orders.pop(event.order.order_id, None)
    return replace(state, open_orders=orders, updated_at=max(state.updated_at, event.event_at))


def _algo(state: MirrorState, event: AlgoOrderUpdated) -> MirrorState:
    orders = dict(state.algo_orders)
    if event.status in OPEN_ALGO_STATUSES:
        orders[event.order.algo_id] = event.order
    else:
        orders.pop(event.order.algo_id, None)
    return replace(state, algo_orders=orders, updated_at=max(state.updated_at, event.event_at))


def _with_rates(state: MirrorState, rates: tuple[AssetRate, ...]) -> MirrorState:
    """New asset index rates; each volatile asset linked to a held symbol of it (BTC to
    BTCUSDT, else BTCUSDC...) and anchored to that symbol's mark right now."""
    merged = dict(state.rates)
    links = dict(state.rate_links)
    for rate in rates:
        merged[rate.asset] = rate
        link = link_symbol(rate.asset, state.marks)
        if link is None:
            links.pop(rate.asset, None)
        else:
            links[rate.asset] = (link, state.marks[link])
    return replace(state, rates=merged, rate_links=links)


def rebuild(state: MirrorState) -> MirrorState:
    """The state with its margin book recomputed (after loading it from the store)."""
    return _rebuilt(state)


def _rebuilt(state: MirrorState) -> MirrorState:
    """Recompute the margin book after a change of positions, wallet, leverage or brackets."""
    positions = []
    for (symbol, side), change in state.positions.items():
        margin_type = state.margin_types.get(symbol) or change.margin_type or MarginType.CROSS
        wallet = change.isolated_wallet if margin_type is MarginType.ISOLATED else None
        positions.append(
            Position(
                symbol,
                side,
                change.amount,
                change.entry_price,
                margin_type,
                wallet or ZERO,
                state.leverage.get(symbol),
                change.margin_asset or state.margin_asset(symbol),
            )
        )
    held = {p.symbol for p in positions}
    missing = {s for s in held if s not in state.brackets}
    if any(s not in state.marks for s in held) or (missing and state.fallback_mmr is None):
        kept = {s: rate for s, rate in state.assumed.items() if s in missing}
        return replace(state, book=None, assumed=kept)
    assumed = assumed_rates(
        state.assumed, state.fallback_mmr, state.brackets, state.marks, positions, missing
    )
    tables = {
        s: state.brackets[s] if s in state.brackets else assumed_table(assumed[s]) for s in held
    }
    wallets = {**state.wallets, "USDT": state.wallet_balance}
    try:
        if state.multi_assets:
            pools = multi_assets_pool(
                collateral(state.wallets, state.rates, state.rate_links),
                positions,
                state.marks,
                tables,
                unit(state.wallets),
            )
        else:
            pools = single_asset_pools(wallets, positions, state.marks, tables)
    except ValueError:
        # e.g. a one-way/hedge mix mid-switch, or no asset index yet: said by why_not_ready
        return replace(state, book=None, pools={}, assumed=assumed)
    return replace(state, book=worst(pools), pools=pools, assumed=assumed)
