"""Delivering the outbox: oldest first, one chat's messages in order, each row marked sent
only once Telegram accepted it. Flood control waits as long as Telegram asks; a network
error backs off and tries again; a chat that cannot take messages holds only its own.

A send that times out may have reached Telegram anyway; it is sent again (at least once:
Telegram has no idempotency key), never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from telegram.error import BadRequest, ChatMigrated, RetryAfter

from assistant.core.ports import Button, Clock
from assistant.telegram.bot import retry_seconds
from assistant.telegram.render import plain

log = logging.getLogger(__name__)
Send = Callable[..., Awaitable[None]]


class Row(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def buttons(self) -> tuple[Button, ...]: ...
    @property
    def expires_at(self) -> int | None: ...


class Outbox(Protocol):
    def next_per_chat(self) -> Sequence[Row]: ...
    def sent(self, row_id: int, at: int) -> None: ...
    def failed(self, row_id: int, error: str, *, give_up_at: int | None = None) -> None: ...


async def deliver(
    send: Send, outbox: Outbox, wake: asyncio.Event, clock: Clock, *, max_backoff: float = 60.0
) -> None:
    """Until cancelled. Each round sends the oldest waiting message of every chat that is not
    backing off; a chat that fails backs off alone, so it never holds up another chat."""
    retry_at: dict[int, int] = {}  # chat -> the clock's time (ms) of its next try
    failures: dict[int, int] = {}
    while True:
        wake.clear()
        now_ms = clock.now_ms()
        rows = [r for r in outbox.next_per_chat() if retry_at.get(r.chat_id, 0) <= now_ms]
        flood = 0.0
        for row in rows:
            if row.expires_at is not None and clock.now_ms() > row.expires_at:
                # A question whose buttons no longer work: dropped, never sent late.
                log.info("telegram: question %s to chat %s expired unsent", row.id, row.chat_id)
                outbox.failed(row.id, "expired before it could be delivered", give_up_at=now_ms)
                continue
            try:
                try:
                    await send(row.chat_id, row.text, buttons=row.buttons)
                except BadRequest as exc:
                    await _refused(send, outbox, row, exc, clock)
                    continue
            except RetryAfter as exc:
                flood = retry_seconds(exc.retry_after) + 0.1
                outbox.failed(row.id, f"flood control: retry after {flood:.1f}s")
                log.warning("telegram: flood control; the outbox waits %.1fs", flood)
                break  # flood control is per bot: nothing else goes out meanwhile
            except Exception as exc:  # network, Forbidden, ChatMigrated, a closed client...
                failures[row.chat_id] = failures.get(row.chat_id, 0) + 1
                wait = min(max_backoff, 0.5 * 2 ** min(failures[row.chat_id], 8))
                retry_at[row.chat_id] = clock.now_ms() + int(wait * 1000)
                outbox.failed(row.id, f"{type(exc).__name__}: {exc}")
                hint = (
                    f" (the group moved to chat {exc.new_chat_id}: update allowed_chat_ids)"
                    if isinstance(exc, ChatMigrated)
                    else ""
                )
                log.warning(
                    "telegram: chat %s unreachable (%s: %s)%s; retrying in %.1fs",
                    row.chat_id,
                    type(exc).__name__,
                    exc,
                    hint,
                    wait,
                )
            else:
                outbox.sent(row.id, clock.now_ms())
                failures.pop(row.chat_id, None)
                retry_at.pop(row.chat_id, None)
        if flood:
            await clock.sleep(flood)  # as long as Telegram asks, then the same row again
            continue
        if rows:
            continue  # the next message of each chat
        now_ms = clock.now_ms()
        soonest = min((t - now_ms for t in retry_at.values() if t > now_ms), default=30_000)
        await _woken_or_slept(wake, clock, min(30.0, soonest / 1000))


async def _woken_or_slept(wake: asyncio.Event, clock: Clock, seconds: float) -> None:
    """Until something is queued (`wake`) or `seconds` pass on the clock."""
    woken = asyncio.ensure_future(wake.wait())
    slept = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (woken, slept):
            waiter.cancel()
        await asyncio.gather(woken, slept, return_exceptions=True)


async def _refused(send: Send, outbox: Outbox, row: Row, exc: BadRequest, clock: Clock) -> None:
    """Telegram refused the message itself: once more as plain text if the markup was the
    problem; if that is refused too (or the problem was not the markup), it is logged and
    closed, since retrying cannot help. Any other error from the retry propagates: transient."""
    if "parse" in str(exc).lower() or "entit" in str(exc).lower():
        try:
            await send(row.chat_id, plain(row.text), html=False, buttons=row.buttons)
        except BadRequest as again:
            exc = again
        else:
            outbox.sent(row.id, clock.now_ms())
            return
    log.error("telegram: message %s to chat %s refused: %s", row.id, row.chat_id, exc)
    outbox.failed(row.id, f"refused: {exc}", give_up_at=clock.now_ms())
