"""The reducer on event sequences like the ones Binance sends."""

from __future__ import annotations

from decimal import Decimal

from assistant.core.events import (
    AccountSnapshotted,
    BalanceAndPositionUpdated,
    BracketsLoaded,
    ExchangeFigures,
    LeverageChanged,
    MarkPriceUpdated,
    OpenOrder,
    OrderUpdated,
    PositionChange,
)
from assistant.core.margin.book import MarginBook
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import MarginType, PositionSide
from tests.helpers import real_2024_brackets

D = Decimal
BOTH = PositionSide.BOTH


def snapshot(at: int = 1_000, amount: str = "0.5") -> AccountSnapshotted:
    return AccountSnapshotted(
        taken_at=at,
        wallet_balance=D("3000"),
        hedge_mode=False,
        positions=(PositionChange("BTCUSDT", BOTH, D(amount), D("60000"), MarginType.CROSS, D(0)),),
        leverage={"BTCUSDT": 20},
        margin_types={"BTCUSDT": MarginType.CROSS},
        open_orders=(),
        marks={"BTCUSDT": D("60000")},
        exchange=ExchangeFigures(D("120"), D("3000")),
    )


def ready() -> MirrorState:
    state = apply(MirrorState(), BracketsLoaded(real_2024_brackets(), 900))
    return apply(state, snapshot())


def test_snapshot_then_marks_give_health() -> None:
    state = ready()
    assert state.ready and state.book is not None
    assert state.book.margin_ratio == D("120") / D("3000")
    state = apply(state, MarkPriceUpdated("BTCUSDT", D("59000"), 2_000))
    assert state.book is not None and state.book.margin_balance == D("2500")
    # A mark older than the one held is ignored.
    assert apply(state, MarkPriceUpdated("BTCUSDT", D("1"), 1_500)) is state


def test_events_older_than_the_snapshot_are_not_reapplied() -> None:
    state = ready()
    stale = BalanceAndPositionUpdated("ORDER", 999, D("10"), ())
    assert apply(state, stale) is state
    fresh = BalanceAndPositionUpdated(
        "ORDER",
        1_001,
        D("2990"),
        (PositionChange("BTCUSDT", BOTH, D("0.4"), D("60000"), MarginType.CROSS, D(0)),),
    )
    state = apply(state, fresh)
    assert state.wallet_balance == D("2990") and state.positions[("BTCUSDT", BOTH)].amount == D(
        "0.4"
    )
    closed = BalanceAndPositionUpdated(
        "ORDER",
        1_002,
        D("2980"),
        (PositionChange("BTCUSDT", BOTH, D("0"), D("0"), MarginType.CROSS, D(0)),),
    )
    state = apply(state, closed)
    assert state.positions == {} and state.book is not None and state.book.mm == 0


def test_partial_update_keeps_other_positions() -> None:
    state = ready()
    eth = PositionChange("ETHUSDT", BOTH, D("5"), D("3000"), MarginType.CROSS, D(0))
    state = apply(state, BalanceAndPositionUpdated("ORDER", 1_100, None, (eth,)))
    assert set(state.positions) == {("BTCUSDT", BOTH), ("ETHUSDT", BOTH)}
    assert state.book is None  # no ETH mark yet: health waits rather than guessing
    state = apply(state, MarkPriceUpdated("ETHUSDT", D("3000"), 1_200))
    assert state.book is not None and state.wallet_balance == D("3000")


def test_orders_open_and_close() -> None:
    order = OpenOrder(
        "BTCUSDT", 7, "guard-1", "SELL", BOTH, "LIMIT", D("70000"), D("0.1"), D(0), True
    )
    state = apply(ready(), OrderUpdated(1_100, order, "NEW", "NEW"))
    assert list(state.open_orders) == [7]
    state = apply(state, OrderUpdated(1_200, order, "FILLED", "TRADE"))
    assert state.open_orders == {}


def test_leverage_change_moves_initial_margin_only() -> None:
    state = ready()
    assert state.book is not None and state.book.initial_margin == D("1500")
    state = apply(state, LeverageChanged("BTCUSDT", 10, 1_100))
    assert state.book is not None and state.book.initial_margin == D("3000")
    assert state.book.mm == D("120")


def test_incremental_marks_match_a_rebuild() -> None:
    state = ready()
    for i, price in enumerate(["59000", "58123.45", "61000.01", "60500"]):
        state = apply(state, MarkPriceUpdated("BTCUSDT", D(price), 2_000 + i))
    assert state.book is not None
    fresh = MarginBook.build(state.book.account)
    assert (state.book.upnl, state.book.mm) == (fresh.upnl, fresh.mm)


def test_a_late_older_snapshot_does_not_overwrite_a_newer_one() -> None:
    state = apply(ready(), snapshot(at=5_000, amount="0.3"))
    assert apply(state, snapshot(at=4_000, amount="0.5")).positions[("BTCUSDT", BOTH)].amount == D(
        "0.3"
    )


def test_stream_events_after_the_snapshot_moment_are_reapplied_on_top_of_it() -> None:
    state = ready()  # snapshot at t = 1000
    fill = BalanceAndPositionUpdated(
        "ORDER",
        3_000,
        D("2990"),
        (PositionChange("BTCUSDT", BOTH, D("0.4"), D("60000"), MarginType.CROSS, D(0)),),
    )
    state = apply(state, fill)
    # A snapshot taken at t = 2500 whose reads missed the fill at t = 3000 arrives afterwards.
    state = apply(state, snapshot(at=2_500, amount="0.5"))
    assert state.positions[("BTCUSDT", BOTH)].amount == D("0.4") and state.wallet_balance == D(
        "2990"
    )
    # One taken after the fill needs nothing re-applied.
    later = apply(state, snapshot(at=3_500, amount="0.4"))
    assert later.recent == () and later.positions[("BTCUSDT", BOTH)].amount == D("0.4")
