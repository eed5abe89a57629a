"""Margin core: cost of one mark-price update, and of liquidation prices + distance on demand.

Accounts are synthetic but shaped like real ones: N cross one-way positions at 10-20x on
BTCUSDT's real 2024 bracket table, a wallet that puts the margin ratio near 0.3, and marks
that random-walk in 1-second steps (about 0.05% each, as BTC does on a busy day).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from assistant.binance.wire import parse_leverage_brackets
from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import distance, distance_lower_bound
from assistant.core.model import Account, AssetRate, Collateral, Position, PositionSide

DATA = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "leverage_brackets_2024-10-24.json"
)
CENT = Decimal("0.01")


def make_account(n: int, seed: int = 7) -> Account:
    rng = random.Random(seed)
    raw = json.loads(DATA.read_text(), parse_float=Decimal)
    table = parse_leverage_brackets(raw)["BTCUSDT"]
    positions, marks = [], {}
    for i in range(n):
        symbol = f"SYM{i:03d}USDT"
        mark = Decimal(rng.randint(100, 6_000_000)) / 100
        qty = (Decimal(rng.randint(2_000, 120_000)) / mark).quantize(Decimal("0.001"))
        amount = qty if rng.random() < 0.7 else -qty
        entry = (mark * Decimal(str(rng.uniform(0.97, 1.03)))).quantize(CENT)
        positions.append(
            Position(symbol, PositionSide.BOTH, amount, entry, leverage=rng.choice([10, 20]))
        )
        marks[symbol] = mark
    draft = Account(Decimal(0), tuple(positions), marks, dict.fromkeys(marks, table))
    book = MarginBook.build(draft)
    wallet = (book.mm / Decimal("0.3") - book.upnl).quantize(CENT)
    return Account(wallet, draft.positions, marks, draft.brackets)


def mark_path(account: Account, steps: int, seed: int = 11) -> list[tuple[str, Decimal]]:
    rng = random.Random(seed)
    symbols = list(account.marks)
    marks = dict(account.marks)
    path = []
    for _ in range(steps):
        symbol = rng.choice(symbols)
        price = (marks[symbol] * Decimal(str(1 + rng.gauss(0, 0.0005)))).quantize(CENT)
        marks[symbol] = price
        path.append((symbol, price))
    return path


def bench_updates(n: int, steps: int = 200_000) -> float:
    account = make_account(n)
    path = mark_path(account, steps)
    book = MarginBook.build(account)
    start = time.perf_counter()
    for symbol, price in path:
        book = book.with_mark(symbol, price)
        _ = book.margin_balance, book.margin_ratio
    return steps / (time.perf_counter() - start)


def bench_on_demand(n: int = 50, repeats: int = 300) -> tuple[float, float]:
    book = MarginBook.build(make_account(n))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        distance(book)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3, max(samples) * 1e3


def bench_guarded_distance(
    effective_leverage: int, n: int = 50, steps: int = 20_000, alarm: Decimal = Decimal("0.05")
) -> tuple[float, float]:
    """Rules ask 'is any liquidation within `alarm` (5%) of price?' on every update. The
    bound answers 'no' without solving unless the account is close; count the exact solves.
    The wallet is set so that margin balance = gross notional / effective leverage."""
    account = make_account(n)
    book = MarginBook.build(account)
    wallet = (book.gross / effective_leverage - book.upnl).quantize(CENT)
    book = MarginBook.build(Account(wallet, account.positions, account.marks, account.brackets))
    path = mark_path(account, steps, seed=5)
    solves = 0
    start = time.perf_counter()
    for symbol, price in path:
        book = book.with_mark(symbol, price)
        bound = distance_lower_bound(book)
        if bound is not None and bound < alarm:
            solves += 1
            distance(book)
    elapsed = time.perf_counter() - start
    return steps / elapsed, solves / steps


def multi_assets(n: int) -> MarginBook:
    """`make_account(n)` in Multi-Assets mode: USDT at Binance's FAQ rates, half the collateral
    in BTC whose index follows SYM000USDT's mark (so every update of it moves the collateral)."""
    account = make_account(n)
    link = account.positions[0].symbol
    mark = account.marks[link]
    rates = {
        "USDT": AssetRate("USDT", Decimal("0.99"), Decimal("0.9801"), Decimal("0.99495")),
        "BTC": AssetRate("BTC", mark, mark * Decimal("0.95"), mark * Decimal("1.05")),
    }
    btc = (account.wallet_balance / 2 / (mark * Decimal("0.95"))).quantize(Decimal("0.0001"))
    held = Collateral(
        {"USDT": account.wallet_balance / 2, "BTC": btc}, rates, {"BTC": (link, mark)}
    )
    return MarginBook.build(replace(account, asset="USD", collateral=held))


def bench_multi_assets(n: int, steps: int = 5_000) -> tuple[float, float]:
    """Updates/s of equity and ratio, and ms for every liquidation price + distance."""
    book = multi_assets(n)
    path = mark_path(book.account, steps)
    start = time.perf_counter()
    for symbol, price in path:
        book = book.with_mark(symbol, price)
        _ = book.margin_balance, book.margin_ratio
    rate = steps / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(20):
        distance(book)
    return rate, (time.perf_counter() - start) / 20 * 1e3


def main() -> None:
    print("margin core: one mark-price update -> margin balance and margin ratio")
    for n in (1, 10, 50, 200):
        print(f"  {n:4d} positions: {bench_updates(n):>10,.0f} updates/s")
    median_ms, worst_ms = bench_on_demand(50)
    print("margin core: all liquidation prices + distance to liquidation, 50 positions")
    print(f"  median {median_ms:.3f} ms, worst {worst_ms:.3f} ms (of 300)")
    print("margin core: update + distance check guarded by the bound (alarm at 5%), 50 positions")
    for leverage in (3, 5, 10, 20):
        rate, share = bench_guarded_distance(leverage)
        print(
            f"  effective leverage {leverage:2d}x: {rate:>9,.0f} updates/s,"
            f" exact solve on {share:6.1%} of updates"
        )
    print("margin core, Multi-Assets (USD pool, BTC collateral following one symbol):")
    for n in (1, 10, 50):
        rate, ms = bench_multi_assets(n)
        print(f"  {n:4d} positions: {rate:>8,.0f} updates/s; all liquidation prices {ms:.1f} ms")


if __name__ == "__main__":
    main()
