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

from assistant import version as installed_version
from assistant.chat import chart
from assistant.chat.actions import ChatActions
from assistant.chat.parse import BadInput, duration
from assistant.chat.reads import Reads
from assistant.chat.view import Records, View
from assistant.core import format as fmt
from assistant.core.ports import Clock, Command, Reply, Who
from assistant.telegram.render import code, esc

log = logging.getLogger(__name__)
MAX_TEXT = 512  # a command is short; anything longer is refused unread


class ChatCommands:
    def __init__(self, view: View, records: Records, actions: ChatActions, clock: Clock) -> None:
        self.view = view
        self.records = records
        self.actions = actions
        self.clock = clock
        self.reads = Reads(view, records, clock)
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
            (
                "chart",
                "/chart [24h]",
                "margin ratio, distance to liquidation and balance over time",
                self.chart,
            ),
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

    async def help(self, args: list[str], who: Who) -> list[Reply]:
        lines = ["<b>Commands</b>"]
        lines += [f"{code(c.usage)}: {esc(c.help)}" for c in self.commands]
        timeout = int(self.actions.confirmations.timeout)
        lines.append(
            f"Money moves only after you press <b>Confirm</b>; the buttons work once and stop"
            f" working after {timeout} s. In the console, type {code('/confirm TOKEN')} or"
            f" {code('/cancel TOKEN')} with the token shown under the question."
        )
        return [Reply("\n".join(lines))]

    async def version(self, args: list[str], who: Who) -> list[Reply]:
        return [Reply(esc(f"assistant {installed_version()}"))]

    async def status(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.status()

    async def positions(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.positions()

    async def health(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.health()

    async def stress(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.stress(args)

    async def alerts(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.alerts(args)

    async def rules(self, args: list[str], who: Who) -> list[Reply]:
        return self.reads.rules()

    async def chart(self, args: list[str], who: Who) -> list[Reply]:
        seconds = duration(args[0], "period", 90 * 86400) if args else 86400.0
        period = args[0] if args else "24h"
        now = self.clock.now_ms()
        rows = chart.series(self.records.health_since(now - int(seconds * 1000), now))
        latest = chart.now_point(self.view.state, now)
        if latest is not None and (not rows or rows[-1].at < latest.at):
            rows.append(latest)  # through the newest point: the live figures
        if len(rows) < 2:
            raise BadInput(
                "Not enough history yet for a chart: one point is recorded every"
                f" {self.view.timings.health_every:g} s while the account is mirrored."
            )
        shown = f"last {period}"
        if rows[0].at > now - int(seconds * 1000) + 60_000:
            shown = f"since {fmt.when(rows[0].at)} (all the history there is; asked: {period})"
        lines = chart.Lines.of(self.view.effective_rules())
        png = await asyncio.to_thread(chart.render, rows, lines, shown)
        caption = (
            f"Margin ratio, distance to liquidation and margin balance, {esc(shown)}"
            f" ({len(rows)} points, the newest {esc(fmt.when(rows[-1].at))})"
        )
        return [Reply(caption, photo=png)]
