"""A real `websockets` client with bounded waits for the emulator's streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 5.0


async def open_ws(url: str) -> ClientConnection:
    return await connect(url, open_timeout=TIMEOUT, proxy=None)


async def next_frame(ws: ClientConnection, timeout: float = TIMEOUT) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, predicate: Callable[[Any], bool], limit: int = 200) -> Any:
    """The first frame satisfying `predicate`, within `limit` frames and TIMEOUT each."""
    for _ in range(limit):
        frame = await next_frame(ws)
        if predicate(frame):
            return frame
    raise AssertionError(f"no matching frame within {limit} frames")


async def collect(ws: ClientConnection, count: int) -> list[Any]:
    return [await next_frame(ws) for _ in range(count)]
