"""Reconcile: what differs between the mirror and a fresh REST snapshot, and between our
figures and the exchange's. Like with like: Binance's totals include isolated positions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.events import AccountSnapshotted, DriftDetected
from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import liquidation_prices
from assistant.core.mirror import Key, MirrorState, rebuild
from assistant.core.model import Position

MONEY_TOLERANCE = Decimal("0.01")  # USDT; Binance truncates to 8 decimals, marks move between reads
RELATIVE_TOLERANCE = Decimal("0.001")  # 0.1% of the exchange's own figure
# Multi-Assets totals are in USD at rates read apart from the marks: compared to 1e-4.
USD_TOLERANCE = Decimal("0.0001")
ACCOUNT_MODE = "account mode"


def _differs(ours: Decimal, theirs: Decimal, relative: Decimal = RELATIVE_TOLERANCE) -> bool:
    return abs(ours - theirs) > max(MONEY_TOLERANCE, abs(theirs) * relative)


def _position(amount: Decimal, entry: Decimal) -> str:
    return f"{fmt.exact(amount)} @ {fmt.exact(entry)}"


def mirror_drift(state: MirrorState, snapshot: AccountSnapshotted) -> list[DriftDetected]:
    """The mirror against a snapshot: positions, wallet and open orders must match exactly."""
    at = snapshot.taken_at
    drift = []
    theirs = {(p.symbol, p.side): p for p in snapshot.positions if p.amount}
    for key in sorted(set(theirs) | set(state.positions)):
        mine, real = state.positions.get(key), theirs.get(key)
        ours_text = "none" if mine is None else _position(mine.amount, mine.entry_price)
        their_text = "none" if real is None else _position(real.amount, real.entry_price)
        same = (mine is None and real is None) or (
            mine is not None
            and real is not None
            and (mine.amount, mine.entry_price) == (real.amount, real.entry_price)
        )
        if not same:
            drift.append(
                DriftDetected(f"position {key[0]} {key[1].value}", ours_text, their_text, at)
            )
    if state.wallet_balance != snapshot.wallet_balance:
        drift.append(
            DriftDetected(
                "wallet balance",
                f"{fmt.exact(state.wallet_balance)} USDT",
                f"{fmt.exact(snapshot.wallet_balance)} USDT",
                at,
            )
        )
    if state.multi_assets != snapshot.multi_assets:  # switched with no ACCOUNT_CONFIG_UPDATE seen
        modes = ("single-asset", "multi-assets")
        drift.append(
            DriftDetected(ACCOUNT_MODE, modes[state.multi_assets], modes[snapshot.multi_assets], at)
        )
    mine_orders = {o.order_id for o in state.open_orders.values()}
    their_orders = {o.order_id for o in snapshot.open_orders}
    if mine_orders != their_orders:
        drift.append(
            DriftDetected("open orders", str(sorted(mine_orders)), str(sorted(their_orders)), at)
        )
    return drift


def figure_drift(state: MirrorState) -> list[DriftDetected]:
    """Our maintenance margin against the exchange's, per position and in total (cross and
    isolated together, as Binance counts them), at the snapshot's marks. A symbol computed at
    an assumed rate (no brackets) is left out of both sides: that it differs is known and
    already said; the total is compared only when the exchange gives those positions' own."""
    book, exchange = state.book, state.exchange
    if book is None or exchange is None:
        return []
    at = state.snapshot_at
    drift = []
    total = Decimal(0)
    theirs_total: Decimal | None = exchange.total_maint_margin
    # Binance's totals are USDT's pool in single-asset mode ("only for USDT asset") and every
    # position in USD (MM × the askRate of its margin asset) in Multi-Assets mode.
    multi = book.valued is not None
    for pool in state.pools.values():
        account = pool.account
        for pos in account.positions:
            counted = multi or pos.margin_asset == "USDT"
            if pos.symbol in state.assumed:
                known = exchange.maint_margins.get(pos.key)
                if counted and (known is None or theirs_total is None):
                    theirs_total = None
                elif counted and known is not None and theirs_total is not None:
                    theirs_total -= known * _ask(pool, pos)
                continue
            size = abs(pos.amount) * account.marks[pos.symbol]
            mm = account.brackets[pos.symbol].maintenance_margin(size)
            if counted:
                total += mm * _ask(pool, pos)
            drift += _position_drift(pos, mm, exchange.maint_margins.get(pos.key), at)
    if theirs_total is not None and _differs(
        total, theirs_total, USD_TOLERANCE if multi else RELATIVE_TOLERANCE
    ):
        what = "total maintenance margin"
        if multi:
            what += " (USD, every position at its asset's askRate)"
        elif len(state.pools) > 1:
            what += " (USDT pool)"
        if state.assumed:
            what += f" without {', '.join(sorted(state.assumed))}"
        unit = "USD" if multi else "USDT"
        ours, theirs = f"{fmt.money(total)} {unit}", f"{fmt.money(theirs_total)} {unit}"
        drift.append(DriftDetected(what, ours, theirs, at))
    return drift


def _ask(pool: MarginBook, pos: Position) -> Decimal:
    """The rate an asset-unit figure counts at in the pool's unit (1 outside Multi-Assets)."""
    valued = pool.valued
    return Decimal(1) if valued is None else valued.weights[pos.symbol][1]


def _position_drift(
    pos: Position, mm: Decimal, theirs: Decimal | None, at: int
) -> list[DriftDetected]:
    if theirs is None or not _differs(mm, theirs):
        return []
    what = f"maintenance margin {pos.symbol} {pos.side.value}"
    asset = pos.margin_asset
    return [DriftDetected(what, fmt.coins(mm, asset), fmt.coins(theirs, asset), at)]


@dataclass(frozen=True, slots=True)
class PoolCompared:
    """One pool's totals beside Binance's own figures for it, each (ours, Binance's): in
    single-asset mode the account row of its asset (isolated positions included, as Binance
    counts them); in Multi-Assets mode the account's USD totals."""

    asset: str
    maintenance: tuple[Decimal, Decimal]
    balance: tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class Compared:
    """Our figures beside the exchange's, both at the moment of its latest snapshot: ours
    recomputed at the snapshot's marks. `same_account`: no account or order event arrived
    since the snapshot, so its positions and wallets are the ones ours are computed from."""

    at: int
    same_account: bool
    pools: tuple[PoolCompared, ...]
    liquidation: tuple[tuple[Key, Decimal | None, Decimal | None], ...]  # (ours, Binance's)


def at_snapshot(state: MirrorState) -> Compared | None:
    """None until there is a book and a snapshot to compare it with."""
    exchange = state.exchange
    if state.book is None or exchange is None:
        return None
    then = rebuild(replace(state, marks={**state.marks, **state.snapshot_marks}))
    if then.book is None:
        return None
    pools: list[PoolCompared] = []
    rows: list[tuple[Key, Decimal | None, Decimal | None]] = []
    for asset, pool in sorted(then.pools.items()):
        account = pool.account
        prices = liquidation_prices(pool)
        mm, balance = pool.mm, pool.margin_balance
        for pos in account.positions:
            rows.append((pos.key, prices.get(pos.key), exchange.liquidation_prices.get(pos.key)))
            if not pos.is_cross and pos.amount:
                mark = account.marks[pos.symbol]
                size = abs(pos.amount) * mark
                mm += account.brackets[pos.symbol].maintenance_margin(size) * _ask(pool, pos)
                balance += pos.isolated_balance(mark) * _ask(pool, pos)
        if exchange.totals_in_usd:
            theirs = (exchange.total_maint_margin, exchange.total_margin_balance)
        else:
            theirs = (
                exchange.asset_maint_margins.get(asset, exchange.total_maint_margin),
                exchange.asset_margin_balances.get(asset, exchange.total_margin_balance),
            )
        pools.append(PoolCompared(asset, (mm, theirs[0]), (balance, theirs[1])))
    return Compared(
        state.snapshot_at,
        not state.recent,
        tuple(pools),
        tuple((key, ours, theirs or None) for key, ours, theirs in sorted(rows)),
    )
