"""Drift between the mirror and a snapshot, and between our figures and the exchange's."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.events import BalanceAndPositionUpdated, ExchangeFigures, PositionChange
from assistant.core.mirror import apply
from assistant.core.model import MarginType, PositionSide
from assistant.core.reconcile import figure_drift, mirror_drift
from tests.core.test_mirror import ready, snapshot

D = Decimal
BOTH = PositionSide.BOTH


def test_no_drift_when_the_mirror_matches() -> None:
    state = ready()
    assert mirror_drift(state, snapshot(at=5_000)) == []
    assert figure_drift(state) == []  # 0.5 BTC at 60000: MM 120, as the exchange says


def test_a_missed_fill_and_wallet_change_are_reported_with_both_values() -> None:
    state = apply(
        ready(),
        BalanceAndPositionUpdated(
            "ORDER",
            2_000,
            D("2990"),
            (PositionChange("BTCUSDT", BOTH, D("0.4"), D("60000"), MarginType.CROSS, D(0)),),
        ),
    )
    drift = {d.what: (d.ours, d.theirs) for d in mirror_drift(state, snapshot(at=5_000))}
    assert drift == {
        "position BTCUSDT BOTH": ("0.4 @ 60000", "0.5 @ 60000"),
        "wallet balance": ("2990 USDT", "3000 USDT"),
    }


def test_entry_prices_compare_as_numbers() -> None:
    theirs = snapshot(at=5_000)
    theirs = replace(theirs, positions=(replace(theirs.positions[0], entry_price=D("60000.000")),))
    assert mirror_drift(ready(), theirs) == []


def test_maintenance_margin_disagreement_is_drift() -> None:
    state = replace(
        ready(),
        exchange=ExchangeFigures(D("150"), D("3000"), maint_margins={("BTCUSDT", BOTH): D("150")}),
    )
    whats = {d.what for d in figure_drift(state)}
    assert whats == {"maintenance margin BTCUSDT BOTH", "total maintenance margin"}
