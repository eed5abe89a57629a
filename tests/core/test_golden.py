"""Golden vectors: every expected value is a literal Binance published.

Sources, each cited where used:
- FAQ-LP: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
  https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 — worked example
  (cross, one-way): wallet balance 1,535,443.01; BTCUSDT long 109.488 @ 32,481.98, mark
  31,967.27; ETHUSDT long 3,683.979 @ 1,456.84, mark 1,335.18; liquidation prices 26,316.89
  and 1,153.26; "Maintenance Margin of ETHUSDT = 356,512.508 (4918775.081 * 10.00% - 135365)";
  "if the position size ... is 264,000 USDT, then the maintenance margin rate would be 1%";
  "if the position size ... is 500,000 USDT, then the maintenance amount would be 1,300 USDT".
- API-POS: Binance API docs, "Position Information V2" / "Position Information V3"
  (GET /fapi/v2/positionRisk, /fapi/v3/positionRisk), the hedge-mode response example.
- CCXT-REAL: real responses captured by ccxt (ccxt/ccxt ts/src/test/static/response/binance.json
  @ 05776890), copied in tests/fixtures/binance/real.ccxt.*.json.
- SDK-DOC: Binance's documentation examples as carried by binance-connector-python, copied in
  tests/fixtures/binance/docexample.binance-connector-python.rest_responses.json.

Binance prints liquidation prices to the cent on its pages and truncates API fields to
8 decimals, so comparisons are at that precision and no tighter.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest

from assistant.core.margin.health import account_health
from assistant.core.model import Account, MarginType, Position, PositionSide
from tests.helpers import faq_2021_brackets, fixture, real_2024_brackets

D = Decimal
CENT = D("0.01")
API_TOLERANCE = D("0.00000002")  # truncation to 8 decimals, plus one unit


def cents(value: Decimal | None) -> Decimal:
    assert value is not None
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def faq_account() -> Account:
    brackets = faq_2021_brackets()
    return Account(
        wallet_balance=D("1535443.01"),
        positions=(
            Position("BTCUSDT", PositionSide.BOTH, D("109.488"), D("32481.98")),
            Position("ETHUSDT", PositionSide.BOTH, D("3683.979"), D("1456.84")),
        ),
        marks={"BTCUSDT": D("31967.27"), "ETHUSDT": D("1335.18")},
        brackets=brackets,
    )


def test_faq_cross_one_way_liquidation_prices() -> None:
    health = account_health(faq_account())
    btc, eth = health.positions
    assert cents(btc.liquidation_price) == D("26316.89")  # FAQ-LP
    assert cents(eth.liquidation_price) == D("1153.26")  # FAQ-LP


def test_faq_maintenance_margin_uses_the_mark_price_notional() -> None:
    eth = account_health(faq_account()).positions[1]
    assert eth.notional.quantize(D("0.001")) == D("4918775.081")  # FAQ-LP
    assert eth.maintenance_margin.quantize(D("0.001")) == D("356512.508")  # FAQ-LP


def test_faq_tier_lookups() -> None:
    btc = faq_2021_brackets()["BTCUSDT"]
    assert btc.tier_for(D("264000")).mmr == D("0.01")  # FAQ-LP, "264,000 USDT ... 1%"
    assert btc.tier_for(D("500000")).cum == D("1300")  # FAQ-LP, "500,000 USDT ... 1,300 USDT"


def test_api_doc_hedge_isolated_liquidation_prices() -> None:
    """API-POS hedge example: BTCUSDT isolated 10x, LONG 20 @ 6563.665 with isolatedMargin
    15517.54150468 and uPnL 2316.83423560 (so isolatedWallet = 13200.70726908); SHORT -10 with
    isolatedMargin 5413.95799991 and uPnL -1156.46711780 (the example prints entryPrice 0.00000;
    its uPnL at mark 6679.50671178 gives 6563.86; isolatedWallet = 6570.42511771).
    Expected liquidation prices 5930.78 and 7189.95, with the 2021 BTCUSDT brackets."""
    account = Account(
        wallet_balance=D("0"),
        positions=(
            Position(
                "BTCUSDT",
                PositionSide.LONG,
                D("20"),
                D("6563.665"),
                MarginType.ISOLATED,
                D("15517.54150468") - D("2316.83423560"),
                10,
            ),
            Position(
                "BTCUSDT",
                PositionSide.SHORT,
                D("-10"),
                D("6563.86"),
                MarginType.ISOLATED,
                D("5413.95799991") + D("1156.46711780"),
                10,
            ),
        ),
        marks={"BTCUSDT": D("6679.50671178")},
        brackets=faq_2021_brackets(),
    )
    long, short = account_health(account).positions
    assert long.unrealized_pnl == D("2316.83423560")  # API-POS
    assert short.unrealized_pnl == D("-1156.46711780")  # API-POS
    assert cents(long.liquidation_price) == D("5930.78")  # API-POS
    assert cents(short.liquidation_price) == D("7189.95")  # API-POS


def _close(ours: Decimal | None, theirs: str) -> bool:
    assert ours is not None
    return abs(ours - D(theirs)) <= API_TOLERANCE


def test_real_position_risk_capture() -> None:
    """CCXT-REAL fapi_v3_positionRisk (2024-07-28): BTCUSDT 0.009 @ 67445.9, mark
    67502.68519858; IM at 80x (7.59405208 = notional / 80); MM in BTCUSDT's first tier."""
    row = fixture("real.ccxt.fapi_v3_positionRisk.json")[0]
    account = Account(
        wallet_balance=D("0"),
        positions=(
            Position(
                "BTCUSDT",
                PositionSide.BOTH,
                D(row["positionAmt"]),
                D(row["entryPrice"]),
                leverage=80,
            ),
        ),
        marks={"BTCUSDT": D(row["markPrice"])},
        brackets=real_2024_brackets(),
    )
    pos = account_health(account).positions[0]
    assert _close(pos.notional, row["notional"])
    assert _close(pos.unrealized_pnl, row["unRealizedProfit"])
    assert _close(pos.initial_margin, row["initialMargin"])
    assert _close(pos.maintenance_margin, row["maintMargin"])


def test_real_account_capture_margin_balance() -> None:
    """CCXT-REAL fapi_v3_account: USDT walletBalance 3.72964781 with the BTCUSDT position of
    the positionRisk capture (0.009 @ 67445.9) at notional 607.55548506, i.e. mark
    607.55548506 / 0.009. Binance's USDT row: unrealizedProfit 0.54238506, marginBalance
    4.27203287, maintMargin 2.43022194, initialMargin 7.59444356 (80x)."""
    data = fixture("real.ccxt.fapi_v3_account.json")
    usdt = next(a for a in data["assets"] if a["asset"] == "USDT")
    row = data["positions"][0]
    amount = D(row["positionAmt"])
    account = Account(
        wallet_balance=D(usdt["crossWalletBalance"]),
        positions=(Position("BTCUSDT", PositionSide.BOTH, amount, D("67445.9"), leverage=80),),
        marks={"BTCUSDT": D(row["notional"]) / amount},
        brackets=real_2024_brackets(),
    )
    health = account_health(account)
    assert _close(health.unrealized_pnl, usdt["unrealizedProfit"])
    assert _close(health.margin_balance, usdt["marginBalance"])
    assert _close(health.maintenance_margin, usdt["maintMargin"])
    assert _close(health.initial_margin, usdt["initialMargin"])


def test_doc_example_position_figures() -> None:
    """SDK-DOC GET /fapi/v3/positionRisk: ADAUSDT 30 @ 0.385, mark 0.41047590, 20x:
    unRealizedProfit 0.76427700, notional 12.31427700, initialMargin 0.61571385."""
    row = fixture("docexample.binance-connector-python.rest_responses.json")[
        "GET /fapi/v3/positionRisk"
    ][0]
    brackets = real_2024_brackets()
    account = Account(
        wallet_balance=D("0"),
        positions=(
            Position(
                "ADAUSDT",
                PositionSide.BOTH,
                D(row["positionAmt"]),
                D(row["entryPrice"]),
                leverage=20,
            ),
        ),
        marks={"ADAUSDT": D(row["markPrice"])},
        brackets={"ADAUSDT": brackets["DOGEUSDT"]},  # ADA's table is not published; MM unused
    )
    pos = account_health(account).positions[0]
    assert _close(pos.unrealized_pnl, row["unRealizedProfit"])
    assert _close(pos.notional, row["notional"])
    assert _close(pos.initial_margin, row["initialMargin"])


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "DOGEUSDT", "1000PEPEUSDT"])
def test_real_bracket_tables_satisfy_the_published_cum_recursion(symbol: str) -> None:
    """FAQ-LP: cum_n = floor_n × (MMR_n − MMR_{n−1}) + cum_{n−1}; it makes MM continuous."""
    tiers = real_2024_brackets()[symbol].brackets
    for low, high in itertools.pairwise(tiers):
        assert high.cum == high.floor * (high.mmr - low.mmr) + low.cum
