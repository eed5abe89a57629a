"""The chat's read-only answers: /status, /positions, /health, /stress, /rules and /alerts.
Every figure is written by `core.format`, as in every other channel: money in USDT with two
decimals, prices to the symbol's tick size, ratios and distances in percent, thresholds as
configured."""

from __future__ import annotations

from decimal import Decimal

from assistant.chat.parse import BadInput, number
from assistant.chat.view import Records, View
from assistant.core import format as fmt
from assistant.core.events import AlgoOrder
from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import book_health
from assistant.core.margin.liquidation import distance
from assistant.core.margin.stress import StressReport, stress_report
from assistant.core.mirror import why_not_ready
from assistant.core.ports import Clock, Reply
from assistant.core.reconcile import at_snapshot
from assistant.telegram.render import b, code, esc


class Reads:
    def __init__(self, view: View, records: Records, clock: Clock) -> None:
        self.view = view
        self.records = records
        self.clock = clock

    def book(self) -> MarginBook:
        state = self.view.state
        if state.book is None or not state.ready:
            raise BadInput(f"The account is not mirrored yet: {esc(why_not_ready(state))}.")
        return state.book

    def tick(self, symbol: str) -> Decimal | None:
        filters = self.view.state.filters.get(symbol)
        return None if filters is None else filters.tick_size

    def price(self, symbol: str, value: Decimal | None) -> str:
        return esc(fmt.price(value, self.tick(symbol)))

    # ---- /status ------------------------------------------------------------------------------

    def status(self) -> list[Reply]:
        book = self.book()
        state, rules = self.view.state, self.view.effective_rules()
        far = distance(book)
        tiers = rules.alerts.ratio_tiers
        ratio = book.margin_ratio
        first = f" (first alert at {fmt.threshold(tiers[0])})" if tiers else ""
        pool = "" if len(state.pools) <= 1 else f"; the {book.asset} pool, nearest liquidation"
        lines = [f"<b>Margin ratio</b> {esc(fmt.ratio(ratio))}{esc(first)}"]
        if book.gross and book.headroom <= 0:
            lines[0] += " <b>LIQUIDATION</b>: the margin balance is at or below maintenance"
        lines += [
            f"<b>Margin balance</b> {esc(fmt.coins(book.margin_balance, book.asset))}"
            f" (maintenance margin {esc(fmt.coins(book.mm, book.asset))}{esc(pool)})",
            f"<b>Distance to liquidation</b> {esc(fmt.distance(far.nearest))}"
            f" (every mark falling {esc(fmt.distance(far.down, 'never'))},"
            f" rising {esc(fmt.distance(far.up, 'never'))})",
            self.freshness(),
            self.mode_line(),
        ]
        for symbol, rate in sorted(state.assumed.items()):
            lines.append(
                f"<b>ASSUMED</b> maintenance rate {esc(fmt.percent(rate))} for {esc(symbol)}:"
                " Binance sent no leverage brackets for it yet"
            )
        if not state.positions:
            lines.append("No open positions.")
        return [Reply("\n".join(lines))]

    def freshness(self) -> str:
        state = self.view.state
        now = self.clock.now_ms()
        limit = self.view.timings.staleness_limit * 1000
        streams = " ".join(
            f"{name} {'✓' if state.connected.get(name) else '✗'}" for name in ("user", "market")
        )
        old = {s: now - state.mark_at.get(s, 0) for s in state.held_symbols}
        stale = {s: age for s, age in old.items() if age > limit}
        if stale:
            worst = max(stale, key=lambda s: stale[s])
            return (
                f"<b>DATA IS STALE</b>: {esc(worst)} mark {esc(fmt.age(stale[worst]))} old;"
                f" streams {streams}"
            )
        newest = f"oldest mark {esc(fmt.age(max(old.values())))} old; " if old else ""
        return f"Data fresh: {newest}streams {streams}"

    def mode_line(self) -> str:
        rules, config = self.view.effective_rules(), self.view.rules
        assert config is not None
        source = "from chat" if rules.mode != config.mode else "config"
        text = f"Mode <b>{esc(rules.mode)}</b> ({source})"
        if rules.paused:
            text += ", <b>PAUSED</b> (no money moves)"
        muted = self.view.memory.muted_until
        if muted > self.clock.now_ms():
            text += f", alerts muted until {esc(fmt.when(muted))}"
        return text

    # ---- /positions ---------------------------------------------------------------------------

    def positions(self) -> list[Reply]:
        """Every pool's positions (the pool named when there are several: single-asset mode's
        USDT, USDC...), each with the user's conditional orders on it."""
        self.book()
        state = self.view.state
        pools = sorted(state.pools.items())
        rows = [(asset, p) for asset, pool in pools for p in book_health(pool).positions]
        algos = sorted(state.algo_orders.values(), key=lambda o: o.algo_id)
        lines = ["<b>Positions</b>"] if rows else ["No open positions."]
        named = ""
        for asset, p in rows:
            if len(pools) > 1 and asset != named:
                named = asset
                lines.append(f"<i>{esc(asset)} pool</i>")
            pos = p.position
            lp = p.liquidation_price
            away = "never" if lp is None else fmt.percent(abs(p.mark - lp) / p.mark)
            if pos.is_cross:
                margin = "cross"
            else:
                margin = f"isolated, margin ratio {fmt.ratio(p.margin_ratio)}"
            liquidation = "none" if lp is None else f"{self.price(pos.symbol, lp)}"
            lines.append(
                f"{b(pos.symbol)} {esc(pos.side.value)} {esc(fmt.exact(pos.amount))}"
                f" @ {self.price(pos.symbol, pos.entry_price)}"
                f"\n  mark {self.price(pos.symbol, p.mark)},"
                f" uPnL {esc(fmt.coins(p.unrealized_pnl, pos.margin_asset))}, {esc(margin)}"
                f"\n  liquidation {liquidation} ({esc(away)} away)"
            )
            lines += [self.algo_line(o) for o in algos if (o.symbol, o.position_side) == pos.key]
        held = {p.position.key for _, p in rows}
        other = [o for o in algos if (o.symbol, o.position_side) not in held]
        if other:
            lines.append("<b>Conditional orders without a position</b>")
            lines += [
                f"{self.algo_line(o)} ({esc(o.symbol)} {esc(o.position_side)})" for o in other
            ]
        return [Reply("\n".join(lines))]

    def algo_line(self, order: AlgoOrder) -> str:
        """A conditional order (Binance's algo service: stop, take-profit, trailing stop), in
        one line under the position it would close."""
        size = "closes the position" if order.close_position else fmt.exact(order.quantity)
        trigger = order.trigger_price
        when = f"at {fmt.price(trigger, self.tick(order.symbol))}" if trigger else "once activated"
        only = ", reduce-only" if order.reduce_only and not order.close_position else ""
        kind = order.kind.replace("_", " ").lower()
        return f"  ↳ {esc(kind)} {esc(order.side)} {esc(size)} {esc(when)}{only}"

    # ---- /health ------------------------------------------------------------------------------

    def health(self) -> list[Reply]:
        """Ours beside Binance's, pool by pool, both at the marks of Binance's last snapshot:
        in single-asset mode each asset's own row of the account, in Multi-Assets mode its
        USD totals. Then ours of now, with the data's age."""
        book = self.book()
        state = self.view.state
        compared = at_snapshot(state)
        if compared is None:
            return [Reply("Binance's figures are not in yet (no account snapshot).")]
        now = self.clock.now_ms()
        age = esc(fmt.age(now - compared.at))
        head = (
            f"<b>Ours | Binance's</b>, both at the marks of Binance's snapshot of {age} ago;"
            f" account mode {esc(state.account_mode)}"
        )
        if not compared.same_account:
            head += (
                "; the account changed since (a fill or a transfer), so ours is the account"
                " as it is now: a difference may be that change. The next snapshot compares"
                " again."
            )
        lines = [head]
        for pool in compared.pools:
            (ours_mm, their_mm), (ours_mb, their_mb) = pool.maintenance, pool.balance
            unit = esc(pool.asset)
            lines.append(
                f"maintenance margin {unit} {esc(fmt.money(ours_mm))} | {esc(fmt.money(their_mm))}"
            )
            lines.append(
                f"margin balance {unit} {esc(fmt.money(ours_mb))} | {esc(fmt.money(their_mb))}"
            )
        for (symbol, side), ours, theirs in compared.liquidation:
            ours_text = "none" if ours is None else self.price(symbol, ours)
            their_text = "none" if theirs is None else self.price(symbol, theirs)
            lines.append(f"{esc(symbol)} {esc(side.value)} liquidation {ours_text} | {their_text}")
        lines += [f"<b>ASSUMED</b> {esc(said)}" for said in state.assumptions]
        newest = max(state.mark_at.values(), default=compared.at)
        lines.append(
            f"<i>now (newest mark {esc(fmt.age(now - newest))} old): margin ratio"
            f" {esc(fmt.ratio(book.margin_ratio))}, margin balance"
            f" {esc(fmt.coins(book.margin_balance, book.asset))};"
            f" drifts found: {len(self.view.drift)}</i>"
        )
        return [Reply("\n".join(lines))]

    # ---- /stress ------------------------------------------------------------------------------

    def stress(self, args: list[str]) -> list[Reply]:
        book = self.book()
        if len(args) not in (1, 2):
            raise BadInput("Usage: <code>/stress -10</code> or <code>/stress BTCUSDT -15</code>")
        symbol = args[0].upper() if len(args) == 2 else None
        move = number(args[-1], "move") / 100
        if not Decimal("-0.99") <= move <= Decimal(10):
            raise BadInput("move: between -99% and +1000%")
        pools = [p for p in self.view.state.pools.values() if p.account.positions] or [book]
        if symbol is not None:
            pools = [p for p in pools if symbol in p.account.marks]
            if not pools:
                raise BadInput(f"{code(symbol[:20])} is not held")
        where = f"{esc(symbol)} moves" if symbol else "every mark moves"
        lines = [f"<b>If {where} {esc(fmt.move(move))}</b>"]
        for pool in pools:  # each margin pool is liquidated on its own
            report = stress_report(pool.account, move, symbol)
            before, after = report.before, report.after
            if len(self.view.state.pools) > 1:
                lines.append(f"<b>{esc(pool.asset)} pool</b>")
            lines += [
                f"margin ratio {esc(fmt.ratio(before.margin_ratio))}"
                f" → {esc(fmt.ratio(after.margin_ratio))}",
                f"margin balance {esc(fmt.money(before.margin_balance))}"
                f" → {esc(fmt.coins(after.margin_balance, pool.asset))}"
                f" (maintenance margin {esc(fmt.coins(after.maintenance_margin, pool.asset))})",
                self._verdict(report),
            ]
            for pos in report.isolated_liquidated:
                lines.append(f"isolated {esc(pos.symbol)} {esc(pos.side.value)}: <b>LIQUIDATED</b>")
        return [Reply("\n".join(lines))]

    def _verdict(self, report: StressReport) -> str:
        at, marks = report.liquidation_move, report.liquidation_marks
        prices = ", ".join(f"{esc(s)} {self.price(s, p)}" for s, p in sorted(marks.items()))
        if report.liquidated:
            where = f" at a {esc(fmt.move(at))} move ({prices})" if at is not None else ""
            return "<b>LIQUIDATED</b>: the margin balance reaches the maintenance margin" + where
        if at is None:
            return "not liquidated: no move this way liquidates the cross account"
        return f"not liquidated: that takes a {esc(fmt.move(at))} move ({prices})"

    # ---- /alerts, /rules ----------------------------------------------------------------------

    def alerts(self, args: list[str]) -> list[Reply]:
        count = int(number(args[0], "count")) if args else 10
        if not 1 <= count <= 50:
            raise BadInput("count: between 1 and 50")
        rows = self.records.recent_audit("alert:", count)
        if not rows:
            return [Reply("No alerts yet.")]
        lines = [f"<b>Latest {len(rows)} alerts</b>"]
        for row in reversed(rows):
            lines.append(f"{esc(fmt.when(row['at']))} {esc(row['detail'])}")
        return [Reply("\n".join(lines))]

    def rules(self) -> list[Reply]:
        rules = self.view.effective_rules()
        a, d, r = rules.alerts, rules.deposit, rules.reduce

        def tiers(values: tuple[Decimal, ...]) -> str:
            return ", ".join(fmt.threshold(t) for t in values) or "none"

        def when(ratio: Decimal | None, near: Decimal | None) -> str:
            parts = [f"margin ratio ≥ {fmt.threshold(ratio)}"] if ratio is not None else []
            if near is not None:
                parts.append(f"distance to liquidation ≤ {fmt.threshold(near)}")
            return " or ".join(parts) or "never"

        lines = [
            self.mode_line(),
            f"<b>Alerts</b>: margin ratio at {esc(tiers(a.ratio_tiers))};"
            f" distance to liquidation at {esc(tiers(a.distance_tiers))};"
            f" cooldown {a.cooldown_ms // 1000} s",
            f"<b>Deposit</b>: {'on' if d.enabled else 'off'};"
            f" when {esc(when(d.trigger_ratio, d.trigger_distance))},"
            f" to reach {esc(fmt.targets(d.target_ratio, d.target_distance))};"
            f" at most {esc(fmt.usdt(d.max_per_action))} per deposit,"
            f" {esc(fmt.usdt(d.max_per_day))} a day",
            f"<b>Reduce</b>: {'on' if r.enabled else 'off'};"
            f" when {esc(when(r.trigger_ratio, r.trigger_distance))},"
            f" toward {esc(fmt.targets(r.target_ratio, r.target_distance))};"
            f" {esc(r.policy)}, at most {esc(fmt.threshold(r.max_fraction))} of a position"
            " per step",
            f"<i>config version {esc(rules.version[:12])}</i>",
        ]
        return [Reply("\n".join(lines))]
