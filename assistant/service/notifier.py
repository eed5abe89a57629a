"""Where an alert goes: always the log (journald, the terminal) and the audit table, then the
listeners (the console, metrics) and, when Telegram is on, the outbox of every allowed chat.
A muted alert (info or warning, while a person's `/mute` lasts; the loop says which) stays in
the log and the audit table; critical ones always go out. A quiet one (`SendAlert.quiet`: a
record, such as an early warning the mark confirmed) goes only to the log and the audit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from assistant.core.actions import SendAlert
from assistant.core.ports import Reply
from assistant.store.sqlite import SqliteStore

log = logging.getLogger("assistant.alerts")
LEVELS = {"critical": logging.CRITICAL, "warning": logging.WARNING}
# Never merged with an earlier identical text, never muted: each is an event of its own
# (money that moved, a liquidation, a margin call, a refused chat request).
EACH_ONE_COUNTS = {"deposit", "reduce", "isolated-margin", "liquidation", "margin_call", "manual"}
Render = Callable[[SendAlert], str]
Listener = Callable[[SendAlert], None]


class Notifier:
    def __init__(
        self,
        store: SqliteStore,
        *,
        chats: Sequence[int] = (),
        render: Render = lambda alert: alert.text,  # the chat's markup (Telegram HTML)
        listeners: Sequence[Listener] = (),
        dedup_ms: int = 600_000,
        log_alerts: bool = True,
    ) -> None:
        self.store = store
        self.chats = tuple(chats)
        self.render = render
        self.listeners = tuple(listeners)
        self.dedup_ms = dedup_ms
        self.log_alerts = log_alerts  # off where the terminal already shows them (the demo)
        self.wake = asyncio.Event()  # the outbox's delivery loop waits on this

    def __call__(self, alert: SendAlert, *, muted: bool = False) -> None:
        if alert.quiet:  # a record only (an early warning the mark confirmed)
            log.info("%s: %s", alert.key, alert.text)
            self.store.audit_alert(alert)
            return
        if self.log_alerts:
            level = LEVELS.get(alert.severity, logging.INFO)
            log.log(level, "ALERT %s: %s", alert.key, alert.text)
        for listener in self.listeners:
            listener(alert)
        self._outbox(alert, muted)
        self.store.audit_alert(alert)  # never raises; last, so nothing above waits on it

    def _outbox(self, alert: SendAlert, muted: bool) -> None:
        if not self.chats:
            return
        counts = alert.key in EACH_ONE_COUNTS
        if not counts and muted:
            log.info("alert %s not sent to Telegram: muted", alert.key)
            return
        text = self.render(alert)
        window = 0 if counts else self.dedup_ms
        queued = [
            self.store.outbox.add(chat, alert.key, alert.severity, text, alert.at, window)
            for chat in self.chats
        ]
        if not any(queued):
            log.info("alert %s not sent again: the same text went out recently", alert.key)
        self.wake.set()

    async def question(self, reply_for: Callable[[int], Reply], at: int, expires_at: int) -> bool:
        """A question with buttons for every chat (each chat its own, from `reply_for`),
        through the outbox like every message; dropped unsent once it expires. True if any
        chat will get it."""
        for chat in self.chats:
            reply = reply_for(chat)
            self.store.outbox.add(
                chat,
                "question",
                "warning",
                reply.text,
                at,
                0,
                buttons=reply.buttons,
                expires_at=expires_at,
            )
        self.wake.set()
        return bool(self.chats)
