"""Wiring the chats into a service: the Telegram bot and its outbox delivery, the console
chat, confirmations, and `confirm` mode's proposals. One set of command handlers serves all."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from telegram.error import TimedOut

from assistant.chat.actions import ChatActions
from assistant.chat.commands import ChatCommands
from assistant.chat.confirm import Confirmations
from assistant.chat.console import ConsoleChat
from assistant.core.ports import Reply
from assistant.core.rules.control import muted
from assistant.service.loop import MirrorService
from assistant.service.notifier import Notifier
from assistant.service.settings import Telegram
from assistant.telegram.bot import TelegramBot
from assistant.telegram.delivery import deliver

log = logging.getLogger(__name__)


@dataclass
class Chats:
    commands: ChatCommands
    actions: ChatActions
    confirmations: Confirmations
    bot: TelegramBot | None = None
    console: ConsoleChat | None = None


def attach(
    service: MirrorService,
    notifier: Notifier,
    telegram: Telegram,
    token: str,
    *,
    console: bool = False,
    console_alerts: bool = True,
) -> Chats:
    notifier.muted = lambda severity, at: muted(service.memory, severity, at)
    confirmations = Confirmations(telegram.confirm_timeout)
    actions = ChatActions(service, confirmations)
    commands = ChatCommands(service, actions)
    chats = Chats(commands, actions, confirmations)
    store = service.store

    if token:
        bot = TelegramBot(
            token=token,
            base_url=telegram.base_url,
            allowed_chat_ids=telegram.allowed_chat_ids,
            allowed_user_ids=telegram.allowed_user_ids,
            commands=commands.commands,
            handle=commands.handle,
            press=commands.press,
            on_sent=confirmations.sent,
        )
        confirmations.edit = bot.edit
        chats.bot = bot

        async def ask_telegram(reply: Reply) -> bool:
            asked = False
            for chat_id in telegram.allowed_chat_ids:
                try:
                    await bot.deliver(chat_id, reply)
                    asked = True
                except TimedOut as exc:  # it may have arrived: the question stays open
                    log.warning("telegram: asking chat %s timed out: %s", chat_id, exc)
                    asked = True
                except Exception as exc:  # Telegram down: logged; nobody was asked
                    log.warning("telegram: could not ask chat %s: %s", chat_id, exc)
            return asked

        service.broadcasters.append(ask_telegram)
        service.extra_tasks.append(("telegram", bot.run))
        service.extra_tasks.append(
            ("outbox", lambda: deliver(bot.send, store.outbox, notifier.wake))
        )
    if console:
        chat = ConsoleChat(commands.handle, commands.press, sys.stdout)
        if console_alerts:
            notifier.listeners.append(chat.alert)
        chats.console = chat

        async def ask_console(reply: Reply) -> bool:
            chat.show(reply)
            return True

        service.broadcasters.append(ask_console)
        service.extra_tasks.append(("console", chat.run))
    if service.broadcasters:
        service.executor.propose = actions.propose
    return chats
