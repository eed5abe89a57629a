"""Actions: what the rules decided to do, in the imperative, as data. Only `app/executor.py`
carries them out. A `decision_id` names the decision; it makes the order's client id and
the intent row, so one decision can never become two requests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from assistant.core.model import PositionSide


@dataclass(frozen=True, slots=True)
class SendAlert:
    key: str  # what the alert is about, e.g. "margin_ratio" or "distance"
    severity: str  # "info" | "warning" | "critical"
    text: str
    at: int


@dataclass(frozen=True, slots=True)
class TransferToFutures:
    decision_id: str
    amount: Decimal
    reason: str
    at: int
    by: str = ""  # who ordered it from chat ("" = the rules)


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

    @property
    def client_id(self) -> str:
        return f"mg-{self.decision_id}"[:36]


MoneyAction = TransferToFutures | AddIsolatedMargin | PlaceReduceOnly
Action = SendAlert | MoneyAction


def describe(action: MoneyAction) -> str:
    if isinstance(action, TransferToFutures):
        return f"transfer {action.amount} USDT from spot to futures"
    if isinstance(action, AddIsolatedMargin):
        return f"add {action.amount} USDT to isolated {action.symbol} {action.position_side.value}"
    return (
        f"reduce-only {action.side} {action.quantity} {action.symbol} {action.position_side.value}"
    )


def kind_of(action: MoneyAction) -> str:
    if isinstance(action, TransferToFutures):
        return "deposit"
    if isinstance(action, AddIsolatedMargin):
        return "isolated-margin"
    return "reduce"
