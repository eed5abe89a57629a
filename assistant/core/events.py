"""Events: what happened, in the past tense, as typed values. Every input to the mirror,
from a websocket frame, a REST snapshot or the service itself, is one of these.

Times are int milliseconds: `event_at` is the exchange's event time (`E`), when it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from assistant.core.model import AssetRate, BracketTable, MarginType, PositionSide
from assistant.core.values import Outcome


@dataclass(frozen=True, slots=True)
class PositionChange:
    """One position leg as the exchange reported it; None where the source does not say."""

    symbol: str
    side: PositionSide
    amount: Decimal
    entry_price: Decimal
    margin_type: MarginType | None = None
    isolated_wallet: Decimal | None = None
    margin_asset: str | None = None  # positionRisk v3 `marginAsset`; ACCOUNT_UPDATE omits it


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """A conditional order in Binance's algo service (`openAlgoOrders`, `ALGO_UPDATE`): a
    stop or take-profit that becomes a real order once the mark (or last price) reaches
    `trigger_price`. `quantity` is 0 for a close-position order (it closes whatever is held)."""

    symbol: str
    algo_id: int
    client_id: str
    side: str  # BUY | SELL
    position_side: PositionSide
    kind: str  # STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT, TRAILING_STOP_MARKET
    trigger_price: Decimal
    quantity: Decimal
    reduce_only: bool
    close_position: bool


@dataclass(frozen=True, slots=True)
class OpenOrder:
    symbol: str
    order_id: int
    client_id: str
    side: str
    position_side: PositionSide
    kind: str
    price: Decimal
    quantity: Decimal
    filled: Decimal
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class ExchangeFigures:
    """Binance's own numbers, kept beside ours (its totals include isolated positions)."""

    total_maint_margin: Decimal
    total_margin_balance: Decimal
    liquidation_prices: Mapping[tuple[str, PositionSide], Decimal] = field(default_factory=dict)
    maint_margins: Mapping[tuple[str, PositionSide], Decimal] = field(default_factory=dict)
    # GET /fapi/v3/account's row of each asset, in that asset's units: `maintMargin` and
    # `marginBalance` (a single-asset pool's own figures; one collateral's part in Multi-Assets).
    asset_maint_margins: Mapping[str, Decimal] = field(default_factory=dict)
    asset_margin_balances: Mapping[str, Decimal] = field(default_factory=dict)
    # The two totals above: USDT's alone (False, single-asset mode) or the USD value of every
    # asset (True, Multi-Assets and credits mode).
    totals_in_usd: bool = False


@dataclass(frozen=True, slots=True)
class MarkPriceUpdated:
    symbol: str
    price: Decimal
    event_at: int


@dataclass(frozen=True, slots=True)
class AccountSnapshotted:
    """A full REST picture of the account; it replaces the mirror's account state."""

    taken_at: int
    wallet_balance: Decimal  # cross wallet balance, USDT
    hedge_mode: bool
    positions: tuple[PositionChange, ...]
    leverage: Mapping[str, int]
    margin_types: Mapping[str, MarginType]
    open_orders: tuple[OpenOrder, ...]
    marks: Mapping[str, Decimal]
    exchange: ExchangeFigures
    # Every asset row's crossWalletBalance (USDT included); empty from an old journal row.
    wallets: Mapping[str, Decimal] = field(default_factory=dict)
    multi_assets: bool = False  # GET /fapi/v1/accountConfig `multiAssetsMargin`
    rates: tuple[AssetRate, ...] = ()  # GET /fapi/v1/assetIndex (Multi-Assets only)
    algo_orders: tuple[AlgoOrder, ...] = ()  # GET /fapi/v1/openAlgoOrders


@dataclass(frozen=True, slots=True)
class BracketsLoaded:
    """Leverage brackets as the exchange sent them, and the maintenance rate to assume for a
    held symbol that has none (`[mirror] fallback_mmr`; None: the one in force stays)."""

    brackets: Mapping[str, BracketTable]
    loaded_at: int
    fallback_mmr: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BalanceAndPositionUpdated:
    """ACCOUNT_UPDATE: only what changed (partial), with Binance's reason (`m`)."""

    reason: str
    event_at: int
    cross_wallet: Decimal | None  # USDT's
    positions: tuple[PositionChange, ...]
    wallets: Mapping[str, Decimal] = field(default_factory=dict)  # every `B` row's `cw`


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """ORDER_TRADE_UPDATE."""

    event_at: int
    order: OpenOrder
    status: str  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH
    execution: str  # NEW, TRADE, CANCELED, ...


@dataclass(frozen=True, slots=True)
class AlgoOrderUpdated:
    """ALGO_UPDATE: a conditional order was placed or changed status."""

    event_at: int
    order: AlgoOrder
    status: str  # NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED


@dataclass(frozen=True, slots=True)
class AccountModeChanged:
    """ACCOUNT_CONFIG_UPDATE `ai.j` (or a reconcile that found another mode): Multi-Assets
    mode switched on or off."""

    multi_assets: bool
    event_at: int


@dataclass(frozen=True, slots=True)
class AssetIndexUpdated:
    """`!assetIndex@arr` or `GET /fapi/v1/assetIndex`: the USD rates of collateral assets."""

    rates: tuple[AssetRate, ...]
    event_at: int


@dataclass(frozen=True, slots=True)
class LeverageChanged:
    symbol: str
    leverage: int
    event_at: int


@dataclass(frozen=True, slots=True)
class MarginCallReceived:
    event_at: int
    cross_wallet: Decimal | None
    symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    event_at: int


@dataclass(frozen=True, slots=True)
class StreamConnected:
    stream: str  # "user" | "market"
    at: int


@dataclass(frozen=True, slots=True)
class StreamDisconnected:
    stream: str
    reason: str
    at: int


@dataclass(frozen=True, slots=True)
class DataWentStale:
    """No fresh data where some was due: a held symbol's mark, or a silent socket."""

    what: str  # a symbol, or "user" / "market"
    since: int
    at: int


@dataclass(frozen=True, slots=True)
class DriftDetected:
    """Our figure and the exchange's disagree beyond tolerance."""

    what: str
    ours: str
    theirs: str
    at: int


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal


@dataclass(frozen=True, slots=True)
class FiltersLoaded:
    filters: Mapping[str, SymbolFilters]
    loaded_at: int


@dataclass(frozen=True, slots=True)
class ActionSettled:
    """The executor's last word on a decision: done, failed, or abandoned after a restart."""

    decision_id: str
    kind: str
    outcome: Outcome
    detail: str
    at: int
    amount: Decimal | None = None  # what a done deposit or top-up actually moved


@dataclass(frozen=True, slots=True)
class ModeSet:
    """A person set the actions' mode from chat ("" = back to the config file's)."""

    mode: str  # a `Mode`'s value, or "" (a str: journaled as asked; a wrong word is ignored)
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class PauseSet:
    """A person paused (the kill switch) or resumed money actions from chat."""

    paused: bool
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class MuteSet:
    """A person muted info and warning alerts until `until` (critical ones still go out)."""

    until: int
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class ManualDeposit:
    """A person asked, and confirmed, a transfer of `amount` USDT from spot to futures."""

    amount: Decimal
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class ManualReduce:
    """A person asked, and confirmed, a reduce-only order for `quantity` of a position."""

    symbol: str
    position_side: PositionSide
    quantity: Decimal
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class CapsRestored:
    """On every start, from durable facts only (the intents the store committed before each
    request), never from a snapshot of the rules' memory: what the day's caps have already
    used, and the decisions whose money may still be moving.

    `moved_today` is the sum, for the UTC day `day`, of our deposits and isolated top-ups that
    are done, whose outcome is unknown, or that are still in flight. `in_flight` books each
    intent the executor's recovery has yet to settle (its lookup on the exchange decides)."""

    day: int  # UTC day number (epoch ms // 86,400,000)
    moved_today: Decimal  # USDT
    in_flight: Mapping[str, Decimal]  # decision id -> amount booked until it settles
    at: int
    moved_by_asset: Mapping[str, Decimal] = field(default_factory=dict)  # other assets than USDT
    in_flight_assets: Mapping[str, str] = field(default_factory=dict)  # decision id -> its asset


@dataclass(frozen=True, slots=True)
class JournalGap:
    """Written when the store can write again after it could not: `rows` events received
    between `since` and `until` were never journaled (the memory's bound was reached). A
    replay across it is told so; the mirror itself is rebuilt by the next snapshot."""

    rows: int
    since: int
    until: int
    at: int


ChatControl = ModeSet | PauseSet | MuteSet | ManualDeposit | ManualReduce

Event = (
    MarkPriceUpdated
    | AccountSnapshotted
    | BracketsLoaded
    | BalanceAndPositionUpdated
    | OrderUpdated
    | AlgoOrderUpdated
    | AccountModeChanged
    | AssetIndexUpdated
    | LeverageChanged
    | MarginCallReceived
    | ListenKeyExpired
    | StreamConnected
    | StreamDisconnected
    | DataWentStale
    | DriftDetected
    | FiltersLoaded
    | ActionSettled
    | ModeSet
    | PauseSet
    | MuteSet
    | ManualDeposit
    | ManualReduce
    | CapsRestored
    | JournalGap
)
