"""`confirm` mode: each action the rules decide is put to the people in the chats as a
question with Confirm and Cancel buttons. The answer goes back through the service's inbox;
the executor carries the action out (the mode and the kill switch as they are then) or
settles it as cancelled or expired, which gives its cap back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from assistant.chat.confirm import Confirmations
from assistant.chat.view import Mailbox
from assistant.core import format as fmt
from assistant.core.actions import MoneyAction, PlaceReduceOnly, TransferToFutures, describe
from assistant.core.margin.book import margin_ratio
from assistant.core.ports import Clock, Reply, Who
from assistant.core.rules.config import Rules
from assistant.core.rules.engine import Health
from assistant.telegram.render import b, code, esc

log = logging.getLogger(__name__)
CONSOLE_CHAT = 0  # the console chat's id (Telegram's are never 0)
# The question as one chat gets it: its own token, which works in that chat only.
ReplyFor = Callable[[int], Reply]
# A question to every chat of one kind, with when it expires; True if anyone will get it.
Ask = Callable[[ReplyFor, int, int], Awaitable[bool]]


def by(who: Who) -> str:
    """Who did something from chat, as every message names them: `the console`,
    `alice in chat 4242`, `chat 4242`."""
    if who.chat_id == CONSOLE_CHAT:
        return fmt.CONSOLE
    return f"{who.name[:32]} in chat {who.chat_id}" if who.name else f"chat {who.chat_id}"


class Proposals:
    def __init__(
        self, confirmations: Confirmations, mailbox: Mailbox, asks: Sequence[Ask], clock: Clock
    ) -> None:
        self.confirmations = confirmations
        self.mailbox = mailbox
        self.asks = tuple(asks)
        self.clock = clock

    async def propose(self, action: MoneyAction, rules: Rules, health: Health | None) -> bool:
        """Ask every chat about an action, each chat with its own buttons; anyone allowed in
        a chat may answer there, and the first answer closes the question in every chat.
        False when nobody could be asked."""
        lines = [f"The rules propose: {b(describe(action))}", f"why: {esc(action.reason)}"]
        if health is not None:
            lines.append(f"margin ratio now {esc(fmt.ratio(health.margin_ratio))}")
            if isinstance(action, TransferToFutures):
                after = margin_ratio(
                    health.maintenance_margin, health.margin_balance + action.amount
                )
                lines.append(f"margin ratio after {esc(fmt.ratio(after))}")
        if isinstance(action, PlaceReduceOnly):
            lines.append(f"client order id {code(action.client_id)}")

        async def run(confirmer: Who) -> str:
            self.mailbox.answer(action, by(confirmer))
            return f"<b>Confirmed</b> by {esc(by(confirmer))}; the outcome follows."

        async def declined(why: str) -> None:
            self.mailbox.answer(action, "", why)

        confirmations = self.confirmations
        question = confirmations.propose("\n".join(lines), run, declined)
        now = self.clock.now_ms()
        expires_at = now + int(confirmations.timeout * 1000)
        asked = any(
            [
                await ask(partial(confirmations.reply_for, question), now, expires_at)
                for ask in self.asks
            ]
        )
        if not asked:
            confirmations.discard(question)  # nobody saw the buttons: nothing to press
        return asked
