"""Margin of a single-asset USDT-M account, kept incrementally per symbol.

Formulas (their Binance sources are listed in `docs/margin-math.md`):

- notional            = positionAmt × mark                      (signed, like the API)
- unrealized PnL      = positionAmt × (mark − entryPrice)
- initial margin      = |notional| / leverage
- maintenance margin  = |notional| × mmr − cum, tier chosen by |notional| at mark
- margin balance      = crossWalletBalance + Σ cross uPnL
- margin ratio        = Σ cross MM / margin balance             (1 = liquidation)
- available balance   = max(0, margin balance − Σ cross IM)
- isolated ratio      = MM / (isolatedWallet + uPnL)

Isolated positions are excluded from the cross totals (numerator and
denominator), as Binance does.

In single-asset mode every margin asset (USDT, USDC, ...) is its own pool with its own book.
In Multi-Assets mode one book holds the whole account in USD (Binance's FAQ "How to Calculate
Margin Ratio in the Multi-Assets Mode"):

- account equity      = Σ per asset min(equity × bidRate, equity × askRate),
                        an asset's equity being its wallet plus its positions' uPnL
- maintenance margin  = Σ position MM × askRate of its margin asset (initial margin alike)
- margin ratio        = maintenance margin / account equity

Each symbol's uPnL is weighted by its margin asset's rate on the side its equity is on, and
its MM by the askRate (`weights`), so the per-symbol machinery below stays as it is.

`MarginBook` holds per-symbol subtotals of the cross positions so that a mark
price update recomputes only that symbol's positions: O(legs of one symbol),
not O(account).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Context, Decimal

from assistant.core.model import (
    STABLE,
    ZERO,
    Account,
    BracketTable,
    Collateral,
    Position,
    validate_account,
)

WIDE = Context(prec=60)  # running totals: exact for any sizes Binance can report


def _swap(total: Decimal, old: Decimal, new: Decimal) -> Decimal:
    """total − old + new without the rounding a 28-digit context would add."""
    return WIDE.add(WIDE.subtract(total, old), new)


def _widest(
    widest: Decimal, old: Decimal, new: Decimal, per_symbol: Mapping[str, SymbolTotals]
) -> Decimal:
    """The largest exposure after one symbol's changed from `old` to `new`: O(1) unless
    that symbol was the largest and shrank."""
    if new >= widest:
        return new
    if old < widest:
        return widest
    return max(t.exposure for t in per_symbol.values())


def margin_ratio(maintenance: Decimal, balance: Decimal) -> Decimal | None:
    """MM / balance; None when the balance is not positive (ratio undefined)."""
    if balance <= ZERO:
        return None
    return maintenance / balance


@dataclass(frozen=True, slots=True)
class SymbolTotals:
    """Sums over one symbol's cross legs at one mark."""

    upnl: Decimal
    mm: Decimal
    gross: Decimal
    im: Decimal
    entry_value: Decimal  # Σ positionAmt × entryPrice, for the liquidation constant
    missing_leverage: int  # open legs whose leverage is unknown (IM undefined)
    spread: Decimal = ZERO  # gross × the table's highest rate: how fast MM can move
    net: Decimal = ZERO  # Σ positionAmt × mark: longs minus shorts
    exposure: Decimal = ZERO  # |net| + spread: how fast headroom can fall per unit of move


EMPTY = SymbolTotals(ZERO, ZERO, ZERO, ZERO, ZERO, 0)


def symbol_totals(
    legs: Iterable[Position],
    mark: Decimal,
    table: BracketTable,
    weights: tuple[Decimal, Decimal] | None = None,
) -> SymbolTotals:
    """Sums over one symbol's legs; with `weights` (Multi-Assets: uPnL's rate, MM's rate) in
    USD, else in the margin asset."""
    if weights is not None:
        return _weighted(symbol_totals(legs, mark, table), *weights, table)
    upnl = mm = gross = im = entry_value = ZERO
    missing = 0
    for pos in legs:
        amount = pos.amount
        if not amount:
            continue
        size = abs(amount) * mark
        tier = table.brackets[table.index_for(size)]
        upnl += amount * (mark - pos.entry_price)
        mm += size * tier.mmr - tier.cum
        gross += size
        entry_value += amount * pos.entry_price
        if pos.leverage is None:
            missing += 1
        else:
            im += size / pos.leverage
    spread = gross * table.max_mmr
    net = upnl + entry_value
    return SymbolTotals(upnl, mm, gross, im, entry_value, missing, spread, net, abs(net) + spread)


def _weighted(
    raw: SymbolTotals, pnl_rate: Decimal, mm_rate: Decimal, table: BracketTable
) -> SymbolTotals:
    gross = raw.gross * mm_rate
    upnl = raw.upnl * pnl_rate
    net = upnl + raw.entry_value * pnl_rate
    spread = gross * table.max_mmr
    return SymbolTotals(
        upnl,
        raw.mm * mm_rate,
        gross,
        raw.im * mm_rate,
        raw.entry_value * pnl_rate,
        raw.missing_leverage,
        spread,
        net,
        abs(net) + spread,
    )


@dataclass(frozen=True, slots=True)
class Valuation:
    """A Multi-Assets book's collateral at its marks: the wallets' USD value (each at the rate
    on its equity's side), each symbol's (uPnL rate, MM rate), and the USD value of the
    wallets whose index moves with each symbol's mark."""

    wallet: Decimal
    weights: Mapping[str, tuple[Decimal, Decimal]]
    linked: Mapping[str, Decimal]
    # The USD value of volatile collateral (BTC, ETH...) that no held symbol moves: fixed along
    # one symbol's mark, but it falls with the market when every mark does (a uniform move).
    volatile: Decimal = ZERO


def valuation(account: Account, collateral: Collateral) -> Valuation:
    marks = account.marks
    equity: dict[str, Decimal] = dict(collateral.wallets)
    for pos in account.positions:
        if pos.is_cross and pos.amount:
            asset = pos.margin_asset
            equity[asset] = equity.get(asset, ZERO) + pos.upnl(marks[pos.symbol])
    side_rate: dict[str, Decimal] = {}
    ask: dict[str, Decimal] = {}
    for asset, amount in equity.items():
        if asset not in collateral.rates:
            if amount or collateral.wallets.get(asset):
                raise ValueError(f"no asset index for {asset}: its collateral cannot be valued")
            continue
        rate = collateral.rate(asset, marks)
        side_rate[asset] = rate.bid if amount >= ZERO else rate.ask
        ask[asset] = rate.ask
    wallet = volatile = ZERO
    linked: dict[str, Decimal] = {}
    for asset, amount in collateral.wallets.items():
        if not amount:
            continue
        value = amount * side_rate[asset]
        wallet += value
        link = collateral.links.get(asset)
        if link is not None and link[0] in marks:
            linked[link[0]] = linked.get(link[0], ZERO) + value
        elif asset not in STABLE:
            volatile += value
    weights = {
        pos.symbol: (side_rate[pos.margin_asset], ask[pos.margin_asset])
        for pos in account.positions
    }
    return Valuation(wallet, weights, linked, volatile)


@dataclass(frozen=True, slots=True)
class MarginBook:
    """An account with its cross totals; `with_mark` updates in O(one symbol)."""

    account: Account
    cross_legs: Mapping[str, tuple[Position, ...]]
    per_symbol: Mapping[str, SymbolTotals]
    upnl: Decimal
    mm: Decimal
    gross: Decimal
    im: Decimal
    missing_leverage: int
    max_mmr: Decimal  # highest rate of any tier of any cross symbol held
    isolated: tuple[Position, ...] = ()  # open isolated positions (outside the cross totals)
    net: Decimal = ZERO  # Σ over cross symbols of their net notional
    spread: Decimal = ZERO  # Σ over cross symbols of gross × highest rate
    widest: Decimal = ZERO  # the largest one symbol's exposure (see SymbolTotals.exposure)
    valued: Valuation | None = None  # Multi-Assets only

    @classmethod
    def build(cls, account: Account) -> MarginBook:
        validate_account(account)
        legs: dict[str, list[Position]] = {}
        for pos in account.positions:
            if pos.is_cross and pos.amount:
                legs.setdefault(pos.symbol, []).append(pos)
        cross_legs = {sym: tuple(group) for sym, group in legs.items()}
        valued = None if account.collateral is None else valuation(account, account.collateral)
        per_symbol = {
            sym: symbol_totals(
                group,
                account.marks[sym],
                account.brackets[sym],
                None if valued is None else valued.weights[sym],
            )
            for sym, group in cross_legs.items()
        }
        if valued is not None:
            for sym, value in valued.linked.items():
                t = per_symbol.get(sym)
                if t is not None:  # collateral that moves with this symbol's mark
                    net = t.net + value
                    per_symbol[sym] = replace(t, net=net, exposure=abs(net) + t.spread)
        totals = per_symbol.values()
        linked_free = (
            ZERO
            if valued is None
            else sum((v for s, v in valued.linked.items() if s not in per_symbol), valued.volatile)
        )
        return cls(
            account=account,
            cross_legs=cross_legs,
            per_symbol=per_symbol,
            upnl=sum((t.upnl for t in totals), ZERO),
            mm=sum((t.mm for t in totals), ZERO),
            gross=sum((t.gross for t in totals), ZERO),
            im=sum((t.im for t in totals), ZERO),
            missing_leverage=sum(t.missing_leverage for t in totals),
            max_mmr=max((account.brackets[s].max_mmr for s in cross_legs), default=ZERO),
            isolated=tuple(p for p in account.positions if not p.is_cross and p.amount),
            net=sum((t.net for t in totals), linked_free),
            spread=sum((t.spread for t in totals), ZERO),
            widest=max((t.exposure for t in totals), default=ZERO),
            valued=valued,
        )

    def with_mark(self, symbol: str, price: Decimal) -> MarginBook:
        """The book after one mark price update; only `symbol` is recomputed."""
        if price <= ZERO:
            raise ValueError(f"{symbol} mark price must be positive")
        marks = dict(self.account.marks)
        marks[symbol] = price
        account = self.account.with_marks(marks)
        if self.valued is not None:
            return MarginBook.build(account)  # rates, weights and signs may all move
        legs = self.cross_legs.get(symbol)
        if legs is None:
            return replace(self, account=account)
        old = self.per_symbol[symbol]
        new = symbol_totals(legs, price, account.brackets[symbol])
        per_symbol = dict(self.per_symbol)
        per_symbol[symbol] = new
        return MarginBook(
            account=account,
            cross_legs=self.cross_legs,
            per_symbol=per_symbol,
            upnl=_swap(self.upnl, old.upnl, new.upnl),
            mm=_swap(self.mm, old.mm, new.mm),
            gross=_swap(self.gross, old.gross, new.gross),
            im=_swap(self.im, old.im, new.im),
            missing_leverage=self.missing_leverage - old.missing_leverage + new.missing_leverage,
            max_mmr=self.max_mmr,
            isolated=self.isolated,
            net=_swap(self.net, old.net, new.net),
            spread=_swap(self.spread, old.spread, new.spread),
            widest=_widest(self.widest, old.exposure, new.exposure, per_symbol),
        )

    @property
    def asset(self) -> str:
        """The pool's unit: its margin asset, or USD / BNFCR in Multi-Assets mode."""
        return self.account.asset

    @property
    def wallet_balance(self) -> Decimal:
        """The pool's wallet; in Multi-Assets mode the USD value of every wallet."""
        if self.valued is not None:
            return self.valued.wallet
        return self.account.wallet_balance

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet_balance + self.upnl

    @property
    def margin_ratio(self) -> Decimal | None:
        return margin_ratio(self.mm, self.margin_balance)

    @property
    def initial_margin(self) -> Decimal | None:
        return None if self.missing_leverage else self.im

    @property
    def available_balance(self) -> Decimal | None:
        if self.missing_leverage:
            return None
        return max(ZERO, self.margin_balance - self.im)

    @property
    def headroom(self) -> Decimal:
        """Margin balance − maintenance margin: what losses the cross account can absorb."""
        return self.margin_balance - self.mm

    def others(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(uPnL, MM) of every cross symbol except `symbol` (TMM1/UPNL1 of Binance's formula)."""
        own = self.per_symbol.get(symbol, EMPTY)
        return self.upnl - own.upnl, self.mm - own.mm
