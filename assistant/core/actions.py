"""Actions: what the rules decided to do, in the imperative, as data. Only `service/executor.py`
carries them out. A `decision_id` names the decision; it makes the order's client id and
the intent row, so one decision can never become two requests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.model import PositionSide
from assistant.core.values import Outcome, Severity

# An alert's `tier` when it is not a threshold crossed: the condition ended, a mark went stale,
# an early warning the real marks confirmed or withdrew.
CLEAR = "clear"
STALE = "stale"
CONFIRMED = "confirmed"
WITHDRAWN = "withdrawn"
# Every order we send carries a client id with this prefix: an open order without it is the
# user's own, and never ours to cancel.
CLIENT_PREFIX = "mg-"
MANUAL = "asked from chat"  # the reason of an action a person asked for in chat


@dataclass(frozen=True, slots=True)
class SendAlert:
    """An alert, with its facts as fields (the text is for people; the audit table keeps the
    fields, which is what a replay compares)."""

    key: str  # what the alert is about, e.g. "margin_ratio", "distance", "stale:BTCUSDT"
    severity: Severity
    text: str
    at: int
    metric: str = ""  # the tiered metric: "margin_ratio", "distance", "isolated_ratio", ...
    tier: Decimal | str | None = None  # the threshold crossed, or CLEAR / STALE
    amount: Decimal | None = None  # the USDT of a money notice
    outcome: Outcome | None = None  # the executor's announcements: done, dry-run, ...
    decision_id: str = ""  # the executor's announcements: the decision they are about
    quiet: bool = False  # a record only (the log and the audit table), sent to nobody


@dataclass(frozen=True, slots=True)
class TransferToFutures:
    decision_id: str
    amount: Decimal
    reason: str
    at: int
    by: str = ""  # who ordered it from chat ("" = the rules)
    asset: str = "USDT"  # what moves from spot (universal transfer MAIN_UMFUTURE takes any)


@dataclass(frozen=True, slots=True)
class AddIsolatedMargin:
    decision_id: str
    symbol: str
    position_side: PositionSide
    amount: Decimal
    reason: str
    at: int
    by: str = ""  # who ordered it from chat ("" = the rules)


@dataclass(frozen=True, slots=True)
class PlaceReduceOnly:
    decision_id: str
    symbol: str
    position_side: PositionSide
    side: str  # "SELL" closes a long, "BUY" a short
    quantity: Decimal
    reason: str
    at: int
    by: str = ""  # who ordered it from chat ("" = the rules)
    # Client ids of our own stale reduce-only orders on this position, cancelled before this
    # one is sent: with them open, Binance would refuse it (-2022).
    cancel: tuple[str, ...] = ()

    @property
    def client_id(self) -> str:
        return f"{CLIENT_PREFIX}{self.decision_id}"[:36]


MoneyAction = TransferToFutures | AddIsolatedMargin | PlaceReduceOnly
Action = SendAlert | MoneyAction


def _leg(symbol: str, side: PositionSide) -> str:
    """A position as people name it: the symbol, and in hedge mode its leg."""
    return symbol if side == PositionSide.BOTH else f"{symbol} {side.value}"


def describe(action: MoneyAction) -> str:
    if isinstance(action, TransferToFutures):
        return f"transfer {fmt.coins(action.amount, action.asset)} from spot to futures"
    if isinstance(action, AddIsolatedMargin):
        where = _leg(action.symbol, action.position_side)
        return f"add {fmt.usdt(action.amount)} to isolated {where}"
    where = _leg(action.symbol, action.position_side)
    what = f"reduce-only {action.side} {fmt.quantity(action.quantity)} {where}"
    if action.cancel:
        what += f", after cancelling our stale order(s) {', '.join(action.cancel)}"
    return what


def reason_of(action: MoneyAction) -> str:
    """Why it is done, as a clause: who asked for it in chat, or the rule's reason (and who
    confirmed it, in confirm mode)."""
    if action.reason == MANUAL:
        return fmt.asked(action.by)
    return f"{action.reason}; confirmed by {action.by}" if action.by else action.reason


def size(action: MoneyAction) -> Decimal:
    """USDT for a deposit or a top-up, the quantity for an order."""
    return action.quantity if isinstance(action, PlaceReduceOnly) else action.amount


def symbol_of(action: MoneyAction) -> str:
    """An order's or a top-up's symbol; a transfer's asset."""
    return action.asset if isinstance(action, TransferToFutures) else action.symbol


def kind_of(action: MoneyAction) -> str:
    if isinstance(action, TransferToFutures):
        return "deposit"
    if isinstance(action, AddIsolatedMargin):
        return "isolated-margin"
    return "reduce"
