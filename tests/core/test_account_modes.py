"""Every USDⓈ-M account mode against Binance's own numbers, and the liquidation property.

Sources (docs/margin-math.md, "Account modes"):
- Binance FAQ "How to Calculate Margin Ratio in the Multi-Assets Mode" (worked example: USDT
  index 0.99, rates 0.9801 / 0.99495; USDC 1 / 1; wallets 200 USDT and 220 USDC; 0.5 BTCUSDT at
  20,000 (MMR 0.008, IMR 0.01) and 20 ETHUSDC at 600 (MMR 0.01, IMR 0.02)).
- Binance API docs, "Multi-Assets Mode Asset Index": the ADAUSD example row.
- A real `GET /fapi/v3/account` in Multi-Assets mode (tests/fixtures/binance, captured by ccxt):
  a consistency check only, its rates being derived from the same totals.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.commands.calc import calc, calc_bodies
from assistant.commands.calc_input import rates_from
from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import liquidation_prices, uniform_distance
from assistant.core.margin.pools import multi_assets_pool, quote_asset, single_asset_pools
from assistant.core.model import (
    AssetRate,
    Bracket,
    BracketTable,
    Collateral,
    Position,
    PositionSide,
)
from assistant.errors import InputError
from tests.core.strategies import bracket_tables, decimals

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binance"


def one_tier(mmr: str, leverage: int = 125) -> list[dict[str, object]]:
    return [
        {
            "bracket": 1,
            "initialLeverage": leverage,
            "notionalCap": 50_000_000,
            "notionalFloor": 0,
            "maintMarginRatio": D(mmr),
            "cum": 0,
        }
    ]


def faq(positions: bool = True) -> dict[str, object]:
    return {
        "multi_assets": True,
        "assets": [
            {"asset": "USDT", "crossWalletBalance": "200"},
            {"asset": "USDC", "crossWalletBalance": "220"},
        ],
        "asset_index": [
            {"symbol": "USDTUSD", "index": "0.99", "bidBuffer": "0.01", "askBuffer": "0.005"},
            {"symbol": "USDCUSD", "index": "1", "bidBuffer": "0", "askBuffer": "0"},
        ],
        "positions": [
            {
                "symbol": "BTCUSDT",
                "positionAmt": "0.5",
                "entryPrice": "20000",
                "markPrice": "20000",
                "leverage": 100,
            },
            {
                "symbol": "ETHUSDC",
                "positionAmt": "20",
                "entryPrice": "600",
                "markPrice": "600",
                "leverage": 50,
            },
        ]
        if positions
        else [],
        "brackets": {"BTCUSDT": one_tier("0.008"), "ETHUSDC": one_tier("0.01", 50)},
    }


def run(data: dict[str, object]) -> dict[str, object]:
    return calc(json.dumps(data, default=str))


def test_multi_assets_faq_without_positions() -> None:
    out = run(faq(positions=False))
    assert out["account_mode"] == "multi-assets"
    assert D(out["margin_balance"]) == D("416.02")  # 200 × 0.9801 + 220 × 1
    assert D(out["margin_ratio"]) == 0
    assets = {row["asset"]: row for row in out["assets"]}
    # "USDT available for order = 416.02 / 0.99495 = 418.13"; USDC 416.02
    assert D(assets["USDT"]["available_balance"]).quantize(D("0.01")) == D("418.13")
    assert D(assets["USDC"]["available_balance"]) == D("416.02")


def test_multi_assets_faq_with_positions() -> None:
    out = run(faq())
    assert D(out["margin_balance"]) == D("416.02")
    assert D(out["maintenance_margin"]) == D("199.596")  # 0.5×20000×0.008×0.99495 + 20×600×0.01
    assert D(out["initial_margin"]) == D("339.495")
    assert D(out["available_balance"]) == D("76.525")  # uniAvailableForOrder
    assert D(out["margin_ratio"]).quantize(D("0.0001")) == D("0.4798")  # "47.98%"
    assets = {row["asset"]: row for row in out["assets"]}
    assert D(assets["USDT"]["available_balance"]).quantize(D("0.01")) == D("76.91")
    assert D(assets["USDC"]["available_balance"]) == D("76.525")
    assert [p["asset"] for p in out["pools"]] == ["USD"]


def test_asset_index_doc_example() -> None:
    (ada,) = rates_from(
        [
            {
                "symbol": "ADAUSD",
                "index": "1.92957370",
                "bidBuffer": "0.10000000",
                "askBuffer": "0.10000000",
            }
        ]
    )
    assert ada.asset == "ADA"
    assert abs(ada.bid - D("1.73661633")) <= D("1e-8")
    assert abs(ada.ask - D("2.12253107")) <= D("1e-8")


def test_usdc_pool_is_its_own_pool() -> None:
    """Issue 16's measurement: 1,000 USDT and 500 USDC, 0.1 BTCUSDT and 0.1 BTCUSDC long from
    60,000 at 10x, rate 0.005: the USDC leg's liquidation price is 55,276.38 in its own pool
    ((500 − 6,000) / (0.1 × 0.005 − 0.1), Binance's formula with WB = the USDC wallet)."""
    data = {
        "assets": [
            {"asset": "USDT", "crossWalletBalance": "1000"},
            {"asset": "USDC", "crossWalletBalance": "500"},
        ],
        "positions": [
            {
                "symbol": s,
                "positionAmt": "0.1",
                "entryPrice": "60000",
                "markPrice": "60000",
                "leverage": 10,
            }
            for s in ("BTCUSDT", "BTCUSDC")
        ],
        "brackets": {"BTCUSDT": one_tier("0.005"), "BTCUSDC": one_tier("0.005")},
    }
    out = run(data)
    prices = {p["symbol"]: D(p["liquidation_price"]) for p in out["positions"]}
    assert prices["BTCUSDC"].quantize(D("0.01")) == D("55276.38")
    assert prices["BTCUSDT"].quantize(D("0.01")) == D("50251.26")  # (1000 − 6000) / −0.0995
    assert out["pool"] == "USDC"  # the top-level figures are the pool closest to liquidation
    assert D(out["margin_ratio"]) == D("0.06")  # 30 / 500
    pools = {p["asset"]: p for p in out["pools"]}
    assert D(pools["USDT"]["margin_ratio"]) == D("0.03")


def test_quote_assets() -> None:
    assert quote_asset("BTCUSDC") == "USDC"
    assert quote_asset("ETHUSDT_250627") == "USDT"
    assert quote_asset("BTCFDUSD") == "FDUSD"


def test_collateral_that_falls_with_the_position_loses_twice() -> None:
    """A BTCUSDT long backed by BTC collateral: its liquidation price is higher than with the
    same USD value held in USDT, and the uniform distance is shorter."""
    table = BracketTable((Bracket(D(0), D("1e9"), D("0.005"), D(0), 125, 1),))
    long = (Position("BTCUSDT", PositionSide.BOTH, D("0.1"), D(60000), leverage=10),)
    usdt = AssetRate("USDT", D(1), D(1), D(1))
    btc = AssetRate("BTC", D(60000), D(57000), D(63000))
    marks = {"BTCUSDT": D(60000)}
    backed = Collateral(
        {"BTC": D("0.05")}, {"USDT": usdt, "BTC": btc}, {"BTC": ("BTCUSDT", D(60000))}
    )
    plain = Collateral({"USDT": D(2850)}, {"USDT": usdt})
    (with_btc,) = multi_assets_pool(backed, list(long), marks, {"BTCUSDT": table}).values()
    (with_usdt,) = multi_assets_pool(plain, list(long), marks, {"BTCUSDT": table}).values()
    assert with_btc.margin_balance == with_usdt.margin_balance == D(2850)
    lp_btc = liquidation_prices(with_btc)[("BTCUSDT", PositionSide.BOTH)]
    lp_usdt = liquidation_prices(with_usdt)[("BTCUSDT", PositionSide.BOTH)]
    assert lp_btc is not None and lp_usdt is not None and lp_btc > lp_usdt
    # at its liquidation price, the BTC-backed account's equity equals its maintenance margin
    there = with_btc.with_mark("BTCUSDT", lp_btc)
    assert abs(there.margin_balance - there.mm) <= D("1e-9") * there.mm
    assert uniform_distance(with_btc)[0] < uniform_distance(with_usdt)[0]


def test_real_multi_assets_capture_is_consistent() -> None:
    """ccxt's captured Multi-Assets account, with the rates derived from its own totals. The
    account and positionRisk bodies were read at different marks: the position is taken at the
    mark the account's own USDT uPnL implies (entry + uPnL / size)."""
    account = (FIXTURES / "real.ccxt.fapi_v3_account.json").read_text()
    rows = json.loads((FIXTURES / "real.ccxt.fapi_v3_positionRisk.json").read_text())
    body = json.loads(account)
    (usdt,) = [a for a in body["assets"] if a["asset"] == "USDT"]
    (row,) = rows
    row["markPrice"] = str(
        D(row["entryPrice"]) + D(usdt["unrealizedProfit"]) / D(row["positionAmt"])
    )
    positions = json.dumps(rows)
    body["multiAssetsMargin"] = True
    rates = [
        {"symbol": "USDTUSD", "index": "1", "bidRate": "0.99984985", "askRate": "1.00004983"},
        {"symbol": "USDCUSD", "index": "1", "bidRate": "0.99986422", "askRate": "1.00006421"},
    ]
    brackets = one_tier("0.004")
    out = calc_bodies(
        {
            "account": json.dumps(body),
            "positions": positions,
            "brackets": json.dumps({"BTCUSDT": brackets}, default=str),
            "asset_index": json.dumps(rates),
        }
    )
    assert out["account_mode"] == "multi-assets"
    assert abs(D(out["difference"]["margin_balance"])) < D("0.00000010")
    assert abs(D(out["difference"]["maintenance_margin"])) < D("0.00000010")
    (lp,) = out["difference"]["positions"]
    # Binance publishes no Multi-Assets liquidation formula; ours, solved on the same equations,
    # is within half a dollar of its 64,846.99 (the bound the research on this capture found).
    assert abs(D(lp["liquidation_price"])) < D("0.5")


@st.composite
def multi_accounts(draw: st.DrawFn) -> MarginBook:
    symbols = draw(
        st.lists(
            st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCUSDC", "SOLUSDC"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    rates = {
        "USDT": AssetRate(
            "USDT", D(1), draw(decimals("0.98", "1", 4)), draw(decimals("1", "1.02", 4))
        ),
        "USDC": AssetRate(
            "USDC", D(1), draw(decimals("0.98", "1", 4)), draw(decimals("1", "1.02", 4))
        ),
    }
    marks = {s: draw(decimals("1", "70000", 2)) for s in symbols}
    wallets = {"USDT": draw(decimals("-500", "5000", 2)), "USDC": draw(decimals("0", "5000", 2))}
    links = {}
    if "BTCUSDT" in symbols and draw(st.booleans()):
        price = marks["BTCUSDT"]
        rates["BTC"] = AssetRate("BTC", price, price * D("0.95"), price * D("1.05"))
        wallets["BTC"] = draw(decimals("0", "0.5", 4))
        links["BTC"] = ("BTCUSDT", price)
    positions = []
    for s in symbols:
        size = draw(decimals("-3", "3", 3))
        if not size:
            size = D("0.1")
        entry = (marks[s] * draw(decimals("0.8", "1.2", 3))).quantize(D("0.01"))
        positions.append(
            Position(s, PositionSide.BOTH, size, entry, leverage=20, margin_asset=quote_asset(s))
        )
    tables = {s: draw(bracket_tables()) for s in symbols}
    (book,) = multi_assets_pool(
        Collateral(wallets, rates, links), positions, marks, tables
    ).values()
    return book


@settings(max_examples=60, deadline=None)
@given(multi_accounts())
def test_multi_assets_equity_equals_maintenance_at_every_liquidation_price(
    book: MarginBook,
) -> None:
    for (symbol, _), price in liquidation_prices(book).items():
        if price is None or book.headroom <= 0:
            continue
        there = book.with_mark(symbol, price)
        scale = max(abs(there.mm), abs(there.margin_balance), D(1))
        assert abs(there.headroom) <= D("1e-9") * scale


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_each_single_asset_pool_liquidates_on_its_own_wallet(data: st.DataObject) -> None:
    table = data.draw(bracket_tables())
    wallets = {
        "USDT": data.draw(decimals("0", "9000", 2)),
        "USDC": data.draw(decimals("1", "9000", 2)),
    }
    marks = {"BTCUSDT": D(60000), "BTCUSDC": data.draw(decimals("100", "90000", 2))}
    positions = [
        Position(
            s,
            PositionSide.BOTH,
            data.draw(decimals("0.001", "2", 3)),
            D(60000),
            leverage=10,
            margin_asset=quote_asset(s),
        )
        for s in marks
    ]
    pools = single_asset_pools(wallets, positions, marks, {s: table for s in marks})
    usdc = pools["USDC"]
    assert usdc.wallet_balance == wallets["USDC"]
    lp = liquidation_prices(usdc)[("BTCUSDC", PositionSide.BOTH)]
    if lp is not None and usdc.headroom > 0:
        there = usdc.with_mark("BTCUSDC", lp)
        assert abs(there.margin_balance - there.mm) <= D("1e-9") * max(there.mm, D(1))
    # the USDT pool does not see the USDC position at all
    assert [p.symbol for p in pools["USDT"].account.positions] == ["BTCUSDT"]


def test_calc_refuses_a_multi_assets_account_without_rates() -> None:
    data = faq()
    data["asset_index"] = [{"symbol": "USDTUSD", "index": "1"}]
    with pytest.raises(Exception, match="asset index for USDC"):
        run(data)


def test_btc_collateral_follows_a_btcusdc_mark_and_any_market_fall() -> None:
    """BTC collateral moves with the BTC symbol held, USDC-quoted or not; and a fall of every
    mark takes volatile collateral down even when no symbol of it is held."""
    index = [
        {"symbol": "USDCUSD", "index": "1"},
        {"symbol": "BTCUSD", "index": "60000", "bidBuffer": "0.05", "askBuffer": "0.05"},
    ]
    data = {
        "multi_assets": True,
        "assets": [
            {"asset": "USDC", "crossWalletBalance": "100"},
            {"asset": "BTC", "crossWalletBalance": "1"},
        ],
        "asset_index": index,
        "positions": [
            {
                "symbol": "BTCUSDC",
                "positionAmt": "0.5",
                "entryPrice": "60000",
                "markPrice": "60000",
                "leverage": 10,
            }
        ],
        "brackets": {"BTCUSDC": one_tier("0.005")},
    }
    out = run(data)
    # equity 100 + 0.95 p + 0.5 (p − 60000) = MM 0.0025 p  =>  p = 29900 / 1.4475
    (lp,) = [D(p["liquidation_price"]) for p in out["positions"]]
    assert lp.quantize(D("0.01")) == (D(29900) / D("1.4475")).quantize(D("0.01"))
    assert abs(D(out["distance_to_liquidation"]["down"]) - (1 - lp / 60000)) < D("2e-8")
    # an ETH long beside BTC collateral no BTC symbol moves: its own price holds BTC still,
    # the market-wide fall does not
    data["positions"] = [
        {
            "symbol": "ETHUSDC",
            "positionAmt": "10",
            "entryPrice": "3000",
            "markPrice": "3000",
            "leverage": 10,
        }
    ]
    data["brackets"] = {"ETHUSDC": one_tier("0.005")}
    data["assets"] = [
        {"asset": "USDC", "crossWalletBalance": "100"},
        {"asset": "BTC", "crossWalletBalance": "0.1"},
    ]
    out = run(data)
    (eth,) = [D(p["liquidation_price"]) for p in out["positions"]]
    down = D(out["distance_to_liquidation"]["down"])
    assert down < 1 - eth / 3000  # falling together is worse than ETH alone
    # at that uniform fall, equity = maintenance margin: 100 + 5700 f + 10 (3000 f − 3000)
    f = 1 - down
    # (the output is cut to 8 decimals: 35,550 USD per unit of f)
    assert abs(100 + 5700 * f + 10 * (3000 * f - 3000) - D("0.005") * 10 * 3000 * f) < D("0.001")


def wallet(asset: str) -> dict[str, str]:
    return {"asset": asset, "crossWalletBalance": "1"}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d.update(wallet_balance="5"), "not both"),
        (lambda d: d["assets"].append({"asset": "USDT", "crossWalletBalance": "9"}), "twice"),
        (lambda d: d["asset_index"].append({"symbol": "USDTUSD", "index": "0.5"}), "twice"),
        (
            lambda d: d.update(
                multi_assets=False, assets=[{"asset": "BNFCR", "crossWalletBalance": "1"}]
            ),
            "credits mode",
        ),
        (
            lambda d: d.update(
                multi_assets=False, assets=[{"asset": "USDT", "crossWalletBalance": "1"}]
            ),
            "no USDC wallet",
        ),
    ],
)
def test_contradictory_input_is_refused_not_guessed(change: Any, said: str) -> None:
    data = faq()
    change(data)
    with pytest.raises(InputError, match=said):
        run(data)


def test_raw_bodies_without_the_accounts_mode_are_refused() -> None:
    account = (FIXTURES / "real.ccxt.fapi_v3_account.json").read_text()  # v3: no mode in it
    positions = (FIXTURES / "real.ccxt.fapi_v3_positionRisk.json").read_text()
    brackets = json.dumps({"BTCUSDT": one_tier("0.004")}, default=str)
    bodies = {"account": account, "positions": positions, "brackets": brackets}
    with pytest.raises(InputError, match="--config"):
        calc_bodies(bodies)
    config = json.dumps({"multiAssetsMargin": True, "dualSidePosition": False})
    with pytest.raises(InputError, match="asset index"):
        calc_bodies({**bodies, "config": config})
