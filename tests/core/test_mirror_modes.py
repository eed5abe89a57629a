"""The mirror and the rules in every account mode: pools per asset, Multi-Assets switched on
while running, credits, and what each pool may be topped up with."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.actions import SendAlert, TransferToFutures
from assistant.core.events import (
    AccountModeChanged,
    AccountSnapshotted,
    AssetIndexUpdated,
    BalanceAndPositionUpdated,
    BracketsLoaded,
    ExchangeFigures,
    MarkPriceUpdated,
    PositionChange,
)
from assistant.core.mirror import MirrorState, apply, why_not_ready
from assistant.core.model import AccountMode, AssetRate, MarginType, PositionSide
from assistant.core.rules.config import AssetCaps, DepositRule, Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from assistant.core.step import step
from assistant.core.values import Mode
from tests.helpers import real_2024_brackets

D = Decimal
BOTH = PositionSide.BOTH
USDT = AssetRate("USDT", D("0.9999"), D("0.9998"), D("1.0001"))
USDC = AssetRate("USDC", D(1), D(1), D(1))


def snapshot(multi: bool = False, usdc_wallet: str = "500", at: int = 1_000) -> AccountSnapshotted:
    brackets = real_2024_brackets()
    assert "BTCUSDT" in brackets
    return AccountSnapshotted(
        taken_at=at,
        wallet_balance=D("3000"),
        hedge_mode=False,
        positions=(
            PositionChange("BTCUSDT", BOTH, D("0.1"), D("60000"), MarginType.CROSS, D(0), "USDT"),
            PositionChange("BTCUSDC", BOTH, D("0.1"), D("60000"), MarginType.CROSS, D(0), "USDC"),
        ),
        leverage={"BTCUSDT": 10, "BTCUSDC": 10},
        margin_types={},
        open_orders=(),
        marks={"BTCUSDT": D("60000"), "BTCUSDC": D("60000")},
        exchange=ExchangeFigures(D("24"), D("3000")),
        wallets={"USDT": D("3000"), "USDC": D(usdc_wallet)},
        multi_assets=multi,
        rates=(USDT, USDC) if multi else (),
    )


def ready(multi: bool = False, usdc_wallet: str = "500") -> MirrorState:
    brackets = dict(real_2024_brackets())
    brackets["BTCUSDC"] = brackets["BTCUSDT"]
    state = apply(MirrorState(), BracketsLoaded(brackets, 900))
    state = apply(state, snapshot(multi, usdc_wallet))
    return replace(state, connected={"user": True, "market": True})


def test_each_margin_asset_is_its_own_pool_and_the_riskiest_is_on_top() -> None:
    state = ready()
    assert set(state.pools) == {"USDT", "USDC"}
    assert state.book is state.pools["USDC"]  # 500 USDC behind the same position as 3000 USDT
    assert state.pools["USDC"].wallet_balance == D(500)
    assert [p.symbol for p in state.pools["USDT"].account.positions] == ["BTCUSDT"]
    # a USDC mark moves only the USDC pool
    moved = apply(state, MarkPriceUpdated("BTCUSDC", D("57000"), 2_000))
    assert moved.pools["USDT"] is state.pools["USDT"]
    assert moved.pools["USDC"].upnl == D("-300")
    # an ACCOUNT_UPDATE for USDC's wallet lands in its pool
    topped = apply(moved, BalanceAndPositionUpdated("DEPOSIT", 3_000, None, (), {"USDC": D(900)}))
    assert topped.pools["USDC"].wallet_balance == D(900)
    assert topped.pools["USDT"].wallet_balance == D(3000)


def test_multi_assets_switched_on_while_running() -> None:
    state = ready()
    switched = apply(state, AccountModeChanged(True, 2_000))
    assert switched.account_mode is AccountMode.MULTI
    assert switched.book is None  # no asset index yet: blind, and it says why
    assert "asset index" in why_not_ready(switched)
    valued = apply(switched, AssetIndexUpdated((USDT, USDC), 2_100))
    assert valued.book is not None and valued.book.asset == "USD"
    expected = D(3000) * USDT.bid + D(500) * USDC.bid
    assert valued.book.margin_balance == expected
    assert set(valued.pools) == {"USD"}


def test_a_mode_change_is_a_critical_alert() -> None:
    state = ready()
    done = step(state, Memory(), Rules(), AccountModeChanged(True, 2_000), 2_000)
    alerts = [a for a in done.decision.actions if isinstance(a, SendAlert)]
    assert any(a.key == "account_mode" and a.severity == "critical" for a in alerts)
    # a reconcile that finds another mode says so too
    found = step(state, Memory(), Rules(), snapshot(multi=True, at=5_000), 5_000)
    said = [a for a in found.decision.actions if isinstance(a, SendAlert)]
    assert any(a.key == "account_mode" for a in said)


def test_credits_mode_is_named_and_its_assumption_said() -> None:
    state = ready(multi=True)
    credits = apply(state, BalanceAndPositionUpdated("ORDER", 2_000, None, (), {"BNFCR": D("-20")}))
    assert credits.account_mode is AccountMode.CREDITS
    assert credits.book is not None and credits.book.asset == "BNFCR"
    assert any("BNFCR" in said for said in credits.assumptions)


AUTO = Rules(
    deposit=DepositRule(
        trigger_ratio=D("0.05"),
        trigger_distance=None,
        target_ratio=D("0.02"),
        target_distance=D(0),
        max_per_action=D("400"),
        max_per_day=D("1000"),
        cooldown_ms=0,
    ),
    mode=Mode.AUTO,
)


def transfers(state: MirrorState, rules: Rules) -> tuple[list[TransferToFutures], list[SendAlert]]:
    actions = evaluate(state, Memory(), 2_500, rules).actions
    return (
        [a for a in actions if isinstance(a, TransferToFutures)],
        [a for a in actions if isinstance(a, SendAlert)],
    )


def test_a_usdc_pool_without_caps_is_alerted_never_funded() -> None:
    state = ready(usdc_wallet="100")  # USDC pool ratio 30 / 100: past the 0.05 trigger
    moved, said = transfers(state, AUTO)
    assert moved == []
    assert any(a.key == "unfunded:USDC" and a.severity == "critical" for a in said)
    assert any("in the USDC pool" in a.text for a in said if a.key == "distance")


def test_a_usdc_pool_with_its_own_caps_is_topped_up_in_usdc() -> None:
    state = ready(usdc_wallet="100")
    caps = replace(AUTO.deposit, assets={"USDC": AssetCaps(D("250"), D("500"))})
    moved, _ = transfers(state, replace(AUTO, deposit=caps))
    (transfer,) = moved
    assert transfer.asset == "USDC"
    assert transfer.amount == D("250")  # wanted 30 / 0.02 − 100 = 1400: capped per action


def test_multi_assets_tops_up_with_the_configured_asset_at_its_rate() -> None:
    state = ready(multi=True, usdc_wallet="0")
    book = state.book
    assert book is not None
    ratio = book.margin_ratio
    assert ratio is not None and ratio < D("0.05")
    rules = replace(
        AUTO,
        deposit=replace(
            AUTO.deposit,
            trigger_ratio=ratio / 2,
            target_ratio=ratio / 4,
            max_per_action=D("100000"),
            max_per_day=D("100000"),
        ),
    )
    moved, _ = transfers(state, rules)
    (transfer,) = moved
    assert transfer.asset == "USDT"
    usd_needed = book.mm / (ratio / 4) - book.margin_balance
    assert transfer.amount == (usd_needed / USDT.bid).quantize(D("0.01"), rounding="ROUND_CEILING")


def test_the_users_stop_loss_is_told_never_lets_it_block_a_reduction() -> None:
    """A close-position stop on the position does not hold back the reduce-only order (Binance
    does not count untriggered conditional orders against it); the decision names it."""
    from assistant.core.actions import PlaceReduceOnly
    from assistant.core.events import AlgoOrder, AlgoOrderUpdated

    state = ready(usdc_wallet="100")
    stop = AlgoOrder(
        "BTCUSDC", 7, "my-stop", "SELL", BOTH, "STOP_MARKET", D("50000"), D(0), False, True
    )
    state = apply(state, AlgoOrderUpdated(1_500, stop, "NEW"))
    assert list(state.algo_orders) == [7]
    actions = evaluate(state, Memory(), 2_500, AUTO).actions
    (order,) = [a for a in actions if isinstance(a, PlaceReduceOnly)]
    assert order.symbol == "BTCUSDC" and order.quantity > 0
    assert "stop market at 50,000.00 (closes it all)" in order.reason
    gone = apply(state, AlgoOrderUpdated(1_600, stop, "CANCELED"))
    assert gone.algo_orders == {}


def test_a_deposit_that_repays_a_debt_is_sized_at_the_ask_then_the_bid() -> None:
    """Multi-Assets: a negative USDT balance is valued at the ask rate; a deposit first repays
    it (each USDT worth the ask), then adds equity at the bid. Sized so, it lands on target."""
    from assistant.core.rules.money import in_asset

    debt = AssetRate("USDT", D(1), D("0.99"), D("1.02"))
    state = apply(ready(multi=True, usdc_wallet="5000"), AssetIndexUpdated((debt, USDC), 1_100))
    state = apply(state, BalanceAndPositionUpdated("ORDER", 1_200, D(-1000), (), {}))
    book = state.book
    assert book is not None
    equity = D(-1000) + D("0.1") * (D(60000) - D(60000))  # the BTCUSDT leg at its entry
    assert book.valued is not None and book.valued.weights["BTCUSDT"][0] == D("1.02")
    need = D(1500)  # USD of equity wanted: 1,020 repay the debt, 480 more at the bid
    amount = in_asset(book, need, "USDT")
    assert amount == -equity + (need - D(1020)) / D("0.99")
    wallets = dict(book.account.collateral.wallets)  # type: ignore[union-attr]
    wallets["USDT"] += amount
    after = replace(book.account, collateral=replace(book.account.collateral, wallets=wallets))
    from assistant.core.margin.book import MarginBook

    assert MarginBook.build(after).margin_balance - book.margin_balance == need


def test_a_credits_account_is_not_topped_up_with_usdt() -> None:
    state = ready(multi=True, usdc_wallet="100")
    state = apply(state, BalanceAndPositionUpdated("ORDER", 1_500, None, (), {"BNFCR": D(0)}))
    assert state.book is not None and state.book.asset == "BNFCR"
    book = state.book
    assert book.margin_ratio is not None
    low = book.margin_ratio / 2  # triggered, and short of a target below it
    rules = replace(AUTO, deposit=replace(AUTO.deposit, trigger_ratio=low, target_ratio=low / 2))
    moved, said = transfers(state, rules)
    assert moved == []
    (alert,) = [a for a in said if a.key == "unfunded:BNFCR"]
    assert "cannot be topped up with USDT" in alert.text
    btc = replace(rules, deposit=replace(rules.deposit, asset="USDC"))
    moved, _ = transfers(state, btc)
    assert [t.asset for t in moved] == ["USDC"]
