"""The chat commands, written once for Telegram and the console chat.

`ChatCommands.handle(text, who)` parses a message and answers it; nothing here knows which
chat carried it. Read-only commands render the latest state directly; commands that change
behaviour or move money go through `chat_actions` (events on the service's queue, behind a
confirmation where money could move). Every command is audited; bad input gets a polite
error and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from assistant import version as installed_version
from assistant.chat import chart
from assistant.chat.actions import ChatActions
from assistant.chat.parse import BadInput, clock, duration, number
from assistant.chat.view import Records, View
from assistant.core.events import AlgoOrder
from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import book_health
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.margin.stress import stress
from assistant.core.mirror import why_not_ready
from assistant.core.ports import Clock, Command, Reply, Who
from assistant.telegram.render import b, code, esc, money, pct

log = logging.getLogger(__name__)
MAX_TEXT = 512  # a command is short; anything longer is refused unread


class ChatCommands:
    def __init__(self, view: View, records: Records, actions: ChatActions, clock: Clock) -> None:
        self.view = view
        self.records = records
        self.actions = actions
        self.clock = clock
        Handler = Callable[[list[str], Who], Awaitable[list[Reply]]]
        self.table: dict[str, tuple[Command, Handler]] = {}
        for name, usage, help_text, handler in [
            ("help", "/help", "what each command does", self.help),
            (
                "status",
                "/status",
                "margin ratio, balance, distance to liquidation, mode",
                self.status,
            ),
            ("positions", "/positions", "each position with its liquidation price", self.positions),
            ("health", "/health", "our figures beside the exchange's", self.health),
            (
                "stress",
                "/stress -10 | /stress BTCUSDT -15",
                "what if marks move by this %",
                self.stress,
            ),
            ("alerts", "/alerts [N]", "the latest alerts", self.alerts),
            ("rules", "/rules", "the rules in force", self.rules),
            ("chart", "/chart [24h]", "margin ratio and balance over time", self.chart),
            ("mode", "/mode dry-run|confirm|auto", "how actions are taken", actions.mode),
            ("pause", "/pause", "stop all money actions (the kill switch)", actions.pause),
            ("resume", "/resume", "allow money actions again (asks to confirm)", actions.resume),
            ("mute", "/mute 30m | /mute off", "silence info and warning alerts", actions.mute),
            (
                "deposit",
                "/deposit 200",
                "move USDT from spot to futures (asks to confirm)",
                actions.deposit,
            ),
            (
                "reduce",
                "/reduce BTCUSDT 25% | /reduce BTCUSDT LONG 0.5",
                "reduce-only order (asks to confirm)",
                actions.reduce,
            ),
            ("version", "/version", "which version of the assistant this is", self.version),
        ]:
            self.table[name] = (Command(name, usage, help_text), handler)
        self.table["start"] = (Command("", "/start", "same as /help"), self.help)

    @property
    def commands(self) -> list[Command]:
        return [command for command, _ in self.table.values() if command.name]

    # ---- the entry point -------------------------------------------------------------------

    async def handle(self, text: str, who: Who) -> list[Reply]:
        now = self.clock.now_ms()
        name = ""
        try:
            if len(text) > MAX_TEXT:
                raise BadInput("That message is too long for a command. /help lists them.")
            words = text.split()
            if not words or not words[0].startswith("/"):
                raise BadInput("I only understand commands. /help lists them.")
            name = words[0][1:].split("@", 1)[0].lower()
            entry = self.table.get(name)
            if entry is None:
                raise BadInput(f"Unknown command {code('/' + name[:32])}. /help lists them.")
            if len(words) > 5:
                raise BadInput(f"Too many arguments. Usage: {code(entry[0].usage)}")
            replies = await entry[1](words[1:], who)
            outcome = "answered"
        except BadInput as exc:
            replies, outcome = [Reply(f"⚠️ {exc}")], "refused"
        except Exception:
            log.exception("chat command %r failed", name)
            replies, outcome = [Reply("⚠️ Something went wrong; it is in the log.")], "error"
        detail = f"chat {who.chat_id} user {who.user_id}: {text[:200]!r} -> {outcome}"
        self.records.audit(now, "", f"chat:/{name[:32]}", detail)
        return replies

    def sent(self, data: str, chat_id: int, message_id: int) -> None:
        """A question with buttons reached a chat as this message (to edit it when it closes)."""
        self.actions.confirmations.sent(data, chat_id, message_id)

    async def press(self, data: str, who: Who) -> Reply:
        """A button: what it did (or why it did nothing: used, expired, another chat's, or
        a question someone else asked) goes into the audit table with the press."""
        now, outcome = self.clock.now_ms(), "error"
        try:
            reply, outcome = await self.actions.confirmations.answer(data[:64], who)
        finally:  # the press is on record whatever became of it
            detail = f"chat {who.chat_id} user {who.user_id}: {data[:64]!r} -> {outcome}"
            self.records.audit(now, "", "chat:button", detail)
        return reply

    def refused(self, kind: str, text: str, who: Who, why: str) -> None:
        """A message or a button press the chat's gate turned away (a stranger): no answer,
        a row in the audit table."""
        name = f" ({who.name[:32]!r})" if who.name else ""
        detail = f"chat {who.chat_id} user {who.user_id}{name}: {kind} {text[:200]!r} -> {why}"
        self.records.audit(self.clock.now_ms(), "", "chat:refused", detail)

    # ---- read-only -------------------------------------------------------------------------

    def _book(self) -> MarginBook:
        state = self.view.state
        if state.book is None or not state.ready:
            raise BadInput(f"The account is not mirrored yet: {why_not_ready(state)}.")
        return state.book

    async def help(self, args: list[str], who: Who) -> list[Reply]:
        lines = ["<b>Commands</b>"]
        lines += [f"{code(c.usage)}: {esc(c.help)}" for c in self.commands]
        lines.append("Money moves only after you press Confirm; buttons expire.")
        return [Reply("\n".join(lines))]

    async def version(self, args: list[str], who: Who) -> list[Reply]:
        return [Reply(esc(f"assistant {installed_version()}"))]

    async def status(self, args: list[str], who: Who) -> list[Reply]:
        book = self._book()
        state, rules = self.view.state, self.view.effective_rules()
        down, up = uniform_distance(book)
        tiers = rules.alerts.ratio_tiers
        lines = [
            f"<b>Margin ratio</b> {pct(book.margin_ratio)}"
            + (f" (first alert at {pct(tiers[0], 0)})" if tiers else ""),
            f"<b>Margin balance</b> {money(book.margin_balance)} {esc(book.asset)}"
            f" (maintenance {money(book.mm)})",
            f"<b>Liquidation</b> if every mark falls {pct(down)} / rises {pct(up)}".replace(
                "n/a", "never"
            ),
            self.freshness(),
            self.mode_line(),
        ]
        for symbol, rate in sorted(state.assumed.items()):
            lines.append(
                f"<b>ASSUMED</b> maintenance rate {pct(rate)} for {esc(symbol)}:"
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
            age = stale[worst] // 1000
            return f"<b>DATA IS STALE</b>: {esc(worst)} mark {age}s old; streams {streams}"
        newest = f"oldest mark {max(old.values()) / 1000:.1f}s old; " if old else ""
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
            text += f", alerts muted until {clock(muted)}"
        return text

    async def positions(self, args: list[str], who: Who) -> list[Reply]:
        """Every pool's positions (the pool named when there are several: single-asset mode's
        USDT, USDC...), each with the user's conditional orders on it."""
        self._book()
        pools = sorted(self.view.state.pools.items())
        rows = []
        for asset, pool in pools:
            rows += [(asset, p) for p in book_health(pool).positions]
        algos = sorted(self.view.state.algo_orders.values(), key=lambda o: o.algo_id)
        lines = ["<b>Positions</b>"] if rows else ["No open positions."]
        named = ""
        for asset, p in rows:
            if len(pools) > 1 and asset != named:
                named = asset
                lines.append(f"<i>{esc(asset)} pool</i>")
            pos = p.position
            lp = p.liquidation_price
            away = "never" if lp is None else pct(abs(p.mark - lp) / p.mark)
            margin = "cross" if pos.is_cross else f"isolated, ratio {pct(p.margin_ratio)}"
            lines.append(
                f"{b(pos.symbol)} {esc(pos.side.value)} {esc(pos.amount)} @ {esc(pos.entry_price)}"
                f"\n  mark {esc(p.mark)}, uPnL {money(p.unrealized_pnl)}, {margin}"
                f"\n  liquidation {esc('none' if lp is None else f'{lp:.4f}')} ({away} away)"
            )
            lines += [algo_line(o) for o in algos if (o.symbol, o.position_side) == pos.key]
        held = {p.position.key for _, p in rows}
        other = [o for o in algos if (o.symbol, o.position_side) not in held]
        if other:
            lines.append("<b>Conditional orders without a position</b>")
            lines += [f"{algo_line(o)} ({esc(o.symbol)} {esc(o.position_side)})" for o in other]
        return [Reply("\n".join(lines))]

    async def health(self, args: list[str], who: Who) -> list[Reply]:
        """Ours beside Binance's, pool by pool: in single-asset mode each asset's own row of
        the account (Binance's totals are USDT's alone), in Multi-Assets mode its USD totals."""
        self._book()
        state = self.view.state
        ex = state.exchange
        if ex is None:
            return [Reply("The exchange's figures are not in yet.")]
        lines = [
            "<b>Ours</b> beside <b>the exchange's</b> (its last snapshot);"
            f" account mode {esc(state.account_mode)}"
        ]
        for asset, pool in sorted(state.pools.items()):
            if ex.totals_in_usd:
                mm, balance = ex.total_maint_margin, ex.total_margin_balance
            else:
                mm = ex.asset_maint_margins.get(asset, ex.total_maint_margin)
                balance = ex.asset_margin_balances.get(asset, ex.total_margin_balance)
            unit = f" {esc(asset)}" if len(state.pools) > 1 or asset != "USDT" else ""
            lines.append(f"maintenance margin{unit} {money(pool.mm)} | {money(mm)}")
            lines.append(f"margin balance{unit} {money(pool.margin_balance)} | {money(balance)}")
            for p in book_health(pool).positions:
                key = p.position.key
                theirs = ex.liquidation_prices.get(key)
                ours = p.liquidation_price
                lines.append(
                    f"{esc(key[0])} {esc(key[1].value)} liquidation"
                    f" {esc('none' if ours is None else f'{ours:.2f}')}"
                    f" | {esc('none' if not theirs else f'{theirs:.2f}')}"
                )
        lines += [f"<b>ASSUMED</b> {esc(said)}" for said in state.assumptions]
        age = (self.clock.now_ms() - state.snapshot_at) // 1000
        lines.append(f"<i>exchange snapshot {age}s old; drifts found: {len(self.view.drift)}</i>")
        return [Reply("\n".join(lines))]

    async def stress(self, args: list[str], who: Who) -> list[Reply]:
        book = self._book()
        if len(args) not in (1, 2):
            raise BadInput("Usage: <code>/stress -10</code> or <code>/stress BTCUSDT -15</code>")
        symbol = args[0].upper() if len(args) == 2 else None
        move = number(args[-1], "move") / 100
        if not Decimal("-0.99") <= move <= Decimal(10):
            raise BadInput("move: between -99% and +1000%")
        if symbol is not None and symbol not in book.account.marks:
            raise BadInput(f"{code(symbol[:20])} is not held")
        after = stress(book.account, move, symbol)
        liquidated = after.margin_ratio is not None and after.margin_ratio >= 1
        where = f"{esc(symbol)} moves" if symbol else "every mark moves"
        lines = [
            f"<b>If {where} {esc(f'{move * 100:+.2f}')}%</b>",
            f"margin ratio {pct(book.margin_ratio)} → {pct(after.margin_ratio)}",
            f"margin balance {money(book.margin_balance)} → {money(after.margin_balance)}"
            f" {esc(book.asset)}",
            "<b>LIQUIDATED</b>" if liquidated else "not liquidated",
        ]
        for p in after.positions:
            if not p.position.is_cross and p.margin_ratio is not None and p.margin_ratio >= 1:
                lines.append(f"isolated {esc(p.position.symbol)} liquidated")
        return [Reply("\n".join(lines))]

    async def alerts(self, args: list[str], who: Who) -> list[Reply]:
        count = int(number(args[0], "count")) if args else 10
        if not 1 <= count <= 50:
            raise BadInput("count: between 1 and 50")
        rows = self.records.recent_audit("alert:", count)
        if not rows:
            return [Reply("No alerts yet.")]
        lines = [f"<b>Latest {len(rows)} alerts</b>"]
        for row in reversed(rows):
            lines.append(f"{esc(clock(row['at']))} {esc(row['detail'])}")
        return [Reply("\n".join(lines))]

    async def rules(self, args: list[str], who: Who) -> list[Reply]:
        rules = self.view.effective_rules()
        a, d, r = rules.alerts, rules.deposit, rules.reduce
        lines = [
            self.mode_line(),
            f"<b>Alerts</b>: margin ratio at {', '.join(pct(t, 0) for t in a.ratio_tiers)};"
            f" distance at {', '.join(pct(t, 0) for t in a.distance_tiers)};"
            f" cooldown {a.cooldown_ms // 1000}s",
            f"<b>Deposit</b>: {'on' if d.enabled else 'off'};"
            f" when ratio ≥ {pct(d.trigger_ratio, 0)}"
            f" or distance ≤ {pct(d.trigger_distance, 0)}, to ratio {pct(d.target_ratio, 0)};"
            f" at most {money(d.max_per_action)} per deposit, {money(d.max_per_day)} a day",
            f"<b>Reduce</b>: {'on' if r.enabled else 'off'}; when ratio ≥ {pct(r.trigger_ratio, 0)}"
            f" or distance ≤ {pct(r.trigger_distance, 0)}, toward ratio {pct(r.target_ratio, 0)};"
            f" {esc(r.policy)}, at most {pct(r.max_fraction, 0)} of a position per step",
            f"<i>config version {esc(rules.version[:12])}</i>",
        ]
        return [Reply("\n".join(lines))]

    async def chart(self, args: list[str], who: Who) -> list[Reply]:
        seconds = duration(args[0], "period", 90 * 86400) if args else 86400.0
        now = self.clock.now_ms()
        rows = self.records.health_since(now - int(seconds * 1000), now)
        if len(rows) < 2:
            raise BadInput("Not enough history yet for a chart (one point every 10 s).")
        period = args[0] if args else "24h"
        tiers = self.view.effective_rules().alerts.ratio_tiers
        png = await asyncio.to_thread(chart.render, rows, tiers, f"last {period}")
        return [Reply(f"Margin ratio and margin balance, last {esc(period)}", photo=png)]


def algo_line(order: AlgoOrder) -> str:
    """A conditional order (Binance's algo service: stop, take-profit, trailing stop), in
    one line under the position it would close."""
    size = "closes the position" if order.close_position else f"{order.quantity}"
    when = f"at {order.trigger_price}" if order.trigger_price else "once activated"
    only = ", reduce-only" if order.reduce_only and not order.close_position else ""
    kind = order.kind.replace("_", " ").lower()
    return f"  ↳ {esc(kind)} {esc(order.side)} {esc(size)} {esc(when)}{only}"
