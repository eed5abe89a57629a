"""Reconcile: what differs between the mirror and a fresh REST snapshot, and between our
figures and the exchange's. Like with like: Binance's totals include isolated positions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.events import AccountSnapshotted, DriftDetected
from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import liquidation_prices
from assistant.core.mirror import Key, MirrorState

MONEY_TOLERANCE = Decimal("0.01")  # USDT; Binance truncates to 8 decimals, marks move between reads
RELATIVE_TOLERANCE = Decimal("0.001")  # 0.1% of the exchange's own figure


def _differs(ours: Decimal, theirs: Decimal) -> bool:
    return abs(ours - theirs) > max(MONEY_TOLERANCE, abs(theirs) * RELATIVE_TOLERANCE)


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
    account = book.account
    total = Decimal(0)
    theirs_total: Decimal | None = exchange.total_maint_margin
    for pos in account.positions:
        if pos.symbol in state.assumed:
            known = exchange.maint_margins.get(pos.key)
            theirs_total = None if known is None or theirs_total is None else theirs_total - known
            continue
        size = abs(pos.amount) * account.marks[pos.symbol]
        mm = account.brackets[pos.symbol].maintenance_margin(size)
        total += mm
        theirs = exchange.maint_margins.get(pos.key)
        if theirs is not None and _differs(mm, theirs):
            drift.append(
                DriftDetected(
                    f"maintenance margin {pos.symbol} {pos.side.value}",
                    fmt.usdt(mm),
                    fmt.usdt(theirs),
                    at,
                )
            )
    if theirs_total is not None and _differs(total, theirs_total):
        what = "total maintenance margin"
        if state.assumed:
            what += f" without {', '.join(sorted(state.assumed))}"
        drift.append(DriftDetected(what, fmt.usdt(total), fmt.usdt(theirs_total), at))
    return drift


@dataclass(frozen=True, slots=True)
class Compared:
    """Our figures beside the exchange's, both at the moment of its latest snapshot: ours
    recomputed at the snapshot's marks, totals counted as Binance counts them (cross and
    isolated together). `same_account`: no account or order event arrived since the
    snapshot, so its positions and wallet are the ones ours are computed from."""

    at: int
    same_account: bool
    maintenance: tuple[Decimal, Decimal]  # (ours, the exchange's)
    balance: tuple[Decimal, Decimal]
    liquidation: tuple[tuple[Key, Decimal | None, Decimal | None], ...]


def at_snapshot(state: MirrorState) -> Compared | None:
    """None until there is a book and a snapshot to compare it with."""
    book, exchange = state.book, state.exchange
    if book is None or exchange is None:
        return None
    marks = {s: state.snapshot_marks.get(s, price) for s, price in book.account.marks.items()}
    then = MarginBook.build(book.account.with_marks(marks))
    account = then.account
    mm, balance = then.mm, then.margin_balance
    for pos in then.isolated:
        mark = account.marks[pos.symbol]
        mm += account.brackets[pos.symbol].maintenance_margin(abs(pos.amount) * mark)
        balance += pos.isolated_balance(mark)
    ours = liquidation_prices(then)
    rows = tuple(
        (key, price, exchange.liquidation_prices.get(key) or None)
        for key, price in sorted(ours.items())
    )
    return Compared(
        state.snapshot_at,
        not state.recent,
        (mm, exchange.total_maint_margin),
        (balance, exchange.total_margin_balance),
        rows,
    )
