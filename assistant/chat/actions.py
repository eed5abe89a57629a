"""Chat commands that change behaviour or move money. Each becomes an event on the service's
queue (so the journal has it and a replay sees it); anything that lets money move waits for
a Confirm press first. Manual actions are checked against the caps before the question is
asked, and again by the rules when the confirmed event arrives."""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal

from assistant.chat.confirm import Confirmations
from assistant.chat.parse import BadInput, clock, duration, number
from assistant.chat.proposals import by
from assistant.chat.view import Mailbox, View
from assistant.core import format as fmt
from assistant.core.events import Event, ManualDeposit, ManualReduce, ModeSet, MuteSet, PauseSet
from assistant.core.margin.book import margin_ratio
from assistant.core.margin.sizing import ratio_after_reduce
from assistant.core.model import PositionSide
from assistant.core.ports import Clock, Reply, Who
from assistant.core.rules.control import MODES, manual
from assistant.core.rules.memory import NEVER
from assistant.telegram.render import b, code, esc

SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")


class ChatActions:
    def __init__(
        self, view: View, mailbox: Mailbox, confirmations: Confirmations, clock: Clock
    ) -> None:
        self.view = view
        self.mailbox = mailbox
        self.confirmations = confirmations
        self.clock = clock

    async def _put(self, event: Event) -> None:
        await self.mailbox.put(event, None, self.clock.now_ms())

    def _bad(self, text: str) -> list[Reply]:
        raise BadInput(text)

    # ---- behaviour ---------------------------------------------------------------------------

    async def mode(self, args: list[str], who: Who) -> list[Reply]:
        if len(args) != 1 or args[0].lower() not in MODES:
            return self._bad(f"Usage: {code('/mode dry-run|confirm|auto')}")
        mode = args[0].lower()
        current = self.view.effective_rules().mode
        if mode == current:
            return [Reply(f"The mode is already {b(mode)}.")]
        if mode != "auto":  # towards safety: at once
            await self._put(ModeSet(mode, by(who), self.clock.now_ms()))
            return [Reply(f"Mode set to {b(mode)} (was {esc(current)}).")]

        async def run(confirmer: Who) -> str:
            await self._put(ModeSet("auto", by(confirmer), self.clock.now_ms()))
            return f"<b>Done</b>: mode auto, set by {esc(by(confirmer))}."

        question = (
            f"Switch to {b('auto')}? The rules will move money without asking (now {esc(current)})."
        )
        return [self.confirmations.ask(question, run, who)]

    async def pause(self, args: list[str], who: Who) -> list[Reply]:
        await self._put(PauseSet(True, by(who), self.clock.now_ms()))
        return [Reply("<b>Paused</b>: no money moves until /resume. Alerts go on.")]

    async def resume(self, args: list[str], who: Who) -> list[Reply]:
        if not self.view.effective_rules().paused:
            return [Reply("Money actions are not paused.")]

        async def run(confirmer: Who) -> str:
            await self._put(PauseSet(False, by(confirmer), self.clock.now_ms()))
            return f"<b>Resumed</b> by {esc(by(confirmer))}."

        mode = self.view.effective_rules().mode
        return [self.confirmations.ask(f"Resume money actions (mode {b(mode)})?", run, who)]

    async def mute(self, args: list[str], who: Who) -> list[Reply]:
        if len(args) != 1:
            return self._bad(f"Usage: {code('/mute 30m')} or {code('/mute off')}")
        if args[0].lower() == "off":
            await self._put(MuteSet(NEVER, by(who), self.clock.now_ms()))
            return [Reply("Alerts are no longer muted.")]
        until = self.clock.now_ms() + int(duration(args[0], "mute", 7 * 86400) * 1000)
        await self._put(MuteSet(until, by(who), self.clock.now_ms()))
        return [
            Reply(
                f"Info and warning alerts muted until {esc(clock(until))}."
                " <b>Critical alerts still come through.</b> /mute off to undo."
            )
        ]

    # ---- money -------------------------------------------------------------------------------

    def _may_move(self) -> None:
        rules = self.view.effective_rules()
        if rules.mode == "dry-run":
            self._bad("The mode is dry-run: nothing moves. Use /mode confirm or /mode auto first.")
        if rules.paused:
            self._bad("Money actions are paused. /resume first.")

    def _check(self, event: ManualDeposit | ManualReduce) -> None:
        view = self.view
        _, _, refused = manual(view.state, view.memory, view.effective_rules(), event)
        if refused:
            self._bad(f"Not possible: {esc(refused)}.")

    async def deposit(self, args: list[str], who: Who) -> list[Reply]:
        if len(args) != 1:
            return self._bad(f"Usage: {code('/deposit 200')} (USDT)")
        amount = number(args[0], "amount")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            return self._bad("amount: a positive number of USDT, at most 2 decimals")
        self._may_move()
        self._check(ManualDeposit(amount, by(who), self.clock.now_ms()))
        book = self.view.state.book
        rule = self.view.effective_rules().deposit
        today = self.view.memory.deposited_today(self.clock.now_ms())
        lines = [f"Transfer {b(fmt.usdt(amount))} from spot to futures?"]
        if book is not None:
            after = margin_ratio(book.mm, book.margin_balance + amount)
            lines.append(
                f"Margin ratio {esc(fmt.ratio(book.margin_ratio))} → {esc(fmt.ratio(after))}"
            )
        lines.append(
            f"Deposited today {esc(fmt.money(today))} of {esc(fmt.usdt(rule.max_per_day))}"
            " (max_per_day)"
        )

        async def run(confirmer: Who) -> str:
            await self._put(ManualDeposit(amount, by(confirmer), self.clock.now_ms()))
            return "<b>Confirmed</b>: the transfer is on its way; its outcome follows."

        return [self.confirmations.ask("\n".join(lines), run, who)]

    async def reduce(self, args: list[str], who: Who) -> list[Reply]:
        usage = f"Usage: {code('/reduce BTCUSDT 25%')} or {code('/reduce BTCUSDT LONG 0.5')}"
        if len(args) not in (2, 3) or not SYMBOL.match(args[0].upper()):
            return self._bad(usage)
        symbol = args[0].upper()
        state = self.view.state
        held = {side: c for (s, side), c in state.positions.items() if s == symbol and c.amount}
        if len(args) == 3:
            if args[1].upper() not in ("LONG", "SHORT", "BOTH"):
                return self._bad(usage)
            side = PositionSide(args[1].upper())
        elif len(held) == 1:
            side = next(iter(held))
        elif len(held) > 1:
            return self._bad(f"{esc(symbol)} has a long and a short: say which. {usage}")
        else:
            return self._bad(f"No {esc(symbol)} position.")
        change = held.get(side)
        if change is None:
            return self._bad(f"No {esc(symbol)} {esc(side.value)} position.")
        size = abs(change.amount)
        filters = state.filters.get(symbol)
        step = filters.step_size if filters else Decimal("0.001")
        if args[-1].endswith("%"):
            fraction = number(args[-1], "share") / 100
            if not 0 < fraction <= 1:
                return self._bad("share: above 0% and at most 100%")
            quantity = (size * fraction / step).to_integral_value(ROUND_FLOOR) * step
        else:
            quantity = number(args[-1], "quantity")
        if filters is not None and quantity < filters.min_qty:
            return self._bad(
                f"{esc(quantity)} is below {esc(symbol)}'s minimum of {esc(filters.min_qty)}"
            )
        if quantity % step:
            return self._bad(f"quantity: a multiple of {esc(step)}")
        self._may_move()
        self._check(ManualReduce(symbol, side, quantity, by(who), self.clock.now_ms()))
        lines = [
            f"Reduce-only {'SELL' if change.amount > 0 else 'BUY'}"
            f" {b(f'{fmt.quantity(quantity, step)} {symbol}')}"
            f" ({esc(side.value)}, {esc(fmt.percent(quantity / size))} of the position)?"
        ]
        book = state.book
        if book is not None:
            position = next((p for p in book.account.positions if p.key == (symbol, side)), None)
            if position is not None and position.is_cross:
                fee = self.view.effective_rules().reduce.fee_rate
                after = ratio_after_reduce(book, position, quantity, fee)
                mark = book.account.marks[symbol]
                tick = filters.tick_size if filters is not None else None
                lines.append(
                    f"about {esc(fmt.usdt(quantity * mark))} at mark {esc(fmt.price(mark, tick))}"
                )
                lines.append(
                    f"Margin ratio {esc(fmt.ratio(book.margin_ratio))} → {esc(fmt.ratio(after))}"
                )

        async def run(confirmer: Who) -> str:
            await self._put(
                ManualReduce(symbol, side, quantity, by(confirmer), self.clock.now_ms())
            )
            return "<b>Confirmed</b>: the order is on its way; its outcome follows."

        return [self.confirmations.ask("\n".join(lines), run, who)]
