"""Server-sent events for the page: one queue per open page, fed without ever blocking or
raising. The notifier calls `alert` for every alert (an announcement of the executor, one with
an outcome, is an `action`); the server's ticker publishes `health` once a second while anyone
listens. A page that cannot keep up is dropped (its browser reconnects and starts afresh)
rather than slowing the guardian down."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any

from assistant.core.actions import SendAlert

log = logging.getLogger(__name__)
BACKLOG = 500  # frames one page may fall behind before it is dropped
Frame = str | None  # None: the stream ends


def frame(kind: str, data: Any) -> str:
    """One event in the `text/event-stream` format (the JSON is on one line)."""
    return f"event: {kind}\ndata: {json.dumps(data, default=plain, separators=(',', ':'))}\n\n"


def plain(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def alert_fields(alert: SendAlert) -> dict[str, Any]:
    return {
        "at": alert.at,
        "key": alert.key,
        "severity": str(alert.severity),
        "text": alert.text,
        "metric": alert.metric,
        "tier": None if alert.tier is None else str(alert.tier),
        "amount": None if alert.amount is None else str(alert.amount),
        "outcome": None if alert.outcome is None else str(alert.outcome),
    }


class Hub:
    def __init__(self, backlog: int = BACKLOG) -> None:
        self.backlog = backlog
        self._pages: set[asyncio.Queue[Frame]] = set()

    @property
    def listening(self) -> int:
        return len(self._pages)

    def subscribe(self) -> asyncio.Queue[Frame]:
        queue: asyncio.Queue[Frame] = asyncio.Queue(self.backlog + 1)  # + room for the end
        self._pages.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Frame]) -> None:
        self._pages.discard(queue)

    def publish(self, kind: str, data: Any) -> None:
        text = frame(kind, data)
        for queue in list(self._pages):
            if queue.qsize() >= self.backlog:
                log.info("a dashboard page fell %d events behind; dropped", self.backlog)
                self.unsubscribe(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(text)

    def alert(self, alert: SendAlert) -> None:
        """The notifier's listener: never raises, never waits (the outbox comes after it)."""
        try:
            kind = "alert" if alert.outcome is None else "action"
            self.publish(kind, alert_fields(alert))
        except Exception:
            log.exception("could not pass an alert to the dashboard")

    def close(self) -> None:
        for queue in list(self._pages):
            self.unsubscribe(queue)
            queue.put_nowait(None)
