"""Delivering the outbox: oldest first, one chat's messages in order, each row marked sent
only once Telegram accepted it. Flood control waits as long as Telegram asks; a network
error backs off and tries again; a chat that cannot take messages holds only its own.

A send that times out may have reached Telegram anyway; it is sent again (at least once:
Telegram has no idempotency key), never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

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


class Outbox(Protocol):
    def pending(self, limit: int = 100) -> Sequence[Row]: ...
    def sent(self, row_id: int, at: int) -> None: ...
    def failed(self, row_id: int, error: str, *, give_up_at: int | None = None) -> None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


async def deliver(
    send: Send, outbox: Outbox, wake: asyncio.Event, *, max_backoff: float = 60.0
) -> None:
    """Until cancelled."""
    failures = 0
    while True:
        wake.clear()
        rows = outbox.pending()
        held: set[int] = set()  # chats whose next message must wait (order within a chat)
        wait = 0.0
        for row in rows:
            if row.chat_id in held:
                continue
            try:
                await send(row.chat_id, row.text)
            except RetryAfter as exc:
                wait = max(wait, retry_seconds(exc.retry_after) + 0.1)
                outbox.failed(row.id, f"flood control: retry after {wait:.1f}s")
                log.warning("telegram: flood control; the outbox waits %.1fs", wait)
                break  # flood control is per bot: nothing else goes out meanwhile
            except BadRequest as exc:
                held.discard(row.chat_id)
                await _refused(send, outbox, row, exc)
            except (Forbidden, InvalidToken, NetworkError) as exc:
                held.add(row.chat_id)
                failures += 1
                wait = max(wait, min(max_backoff, 0.5 * 2 ** min(failures, 8)))
                outbox.failed(row.id, f"{type(exc).__name__}: {exc}")
                log.warning(
                    "telegram: chat %s unreachable (%s); retrying in %.1fs",
                    row.chat_id,
                    exc,
                    wait,
                )
            except Exception as exc:  # e.g. the HTTP client closed by a bot restart
                held.add(row.chat_id)
                failures += 1
                wait = max(wait, min(max_backoff, 0.5 * 2 ** min(failures, 8)))
                outbox.failed(row.id, f"{type(exc).__name__}: {exc}")
                log.warning("telegram: sending failed (%s); retrying in %.1fs", exc, wait)
            else:
                outbox.sent(row.id, now_ms())
                failures = 0
        if wait:
            await asyncio.sleep(wait)  # a deliberate back-off, not a race
        elif len(rows) < 100:
            try:
                async with asyncio.timeout(30):
                    await wake.wait()
            except TimeoutError:
                pass


async def _refused(send: Send, outbox: Outbox, row: Row, exc: BadRequest) -> None:
    """Telegram refused the message itself: once more as plain text if the markup was the
    problem; otherwise it is logged and closed (retrying cannot help)."""
    if "parse" in str(exc).lower() or "entit" in str(exc).lower():
        try:
            await send(row.chat_id, plain(row.text), html=False)
        except Exception as again:
            exc = BadRequest(str(again))
        else:
            outbox.sent(row.id, now_ms())
            return
    log.error("telegram: message %s to chat %s refused: %s", row.id, row.chat_id, exc)
    outbox.failed(row.id, f"refused: {exc}", give_up_at=now_ms())
