"""What the store holds in memory while it cannot write (a full disk, an I/O error), so that
a failing store never silences the guardian or stops a decision's other actions:

- journal rows not yet committed stay queued (up to `MAX_QUEUED`; past that the oldest are
  dropped and counted, and a gap marker says so once writing works again);
- audit rows wait here (up to `MAX_AUDIT`) and are written, in order, at the next success;
- the outbox keeps its messages in memory meanwhile (see `outbox.Outbox`).

A full disk would also refuse the one write a transfer cannot do without, its intent row. So
the store keeps a ballast file beside it (`BALLAST` bytes): at the first failed write it is
deleted, and while `conserving`, the journal waits in memory so that the space it freed goes
to intents, settlements, audit rows and messages. The ballast is laid again once there is
room (`Ballast.restore`), and the journal resumes, with a gap marker if rows were dropped.

`error` is "" while the store writes, else what the last write said: the loop turns a change
into an alert and the log line."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BALLAST = 4 * 2**20  # bytes kept in reserve beside the store, given up when the disk is full
MAX_QUEUED = 200_000  # journal rows kept in memory (about 15 minutes of 200 marks/s)
MAX_AUDIT = 10_000


class Ballast:
    def __init__(self, path: Path) -> None:
        self.path = path

    def lay(self) -> bool:
        """Write the reserve file (True if it is there now)."""
        if self.path.exists() and self.path.stat().st_size >= BALLAST:
            return True
        try:
            with open(self.path, "wb") as out:
                out.write(b"\0" * BALLAST)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            self.path.unlink(missing_ok=True)
            return False
        return True

    def release(self) -> bool:
        """Give the reserve's space back to the store (True if there was one)."""
        try:
            self.path.unlink()
        except OSError:
            return False
        return True


@dataclass
class Held:
    error: str = ""  # the last write's error ("" when it succeeded)
    audits: deque[tuple[str, list[Any]]] = field(default_factory=lambda: deque(maxlen=MAX_AUDIT))
    dropped: int = 0  # journal rows lost to the bound since the last gap marker
    dropped_from: int | None = None  # received_at of the first of them
    dropped_to: int | None = None
    last_gap: int = 0  # rows the last gap marker said were lost (for the "writable again")
    conserving: bool = False  # the ballast was given up: the journal waits in memory

    @property
    def writable(self) -> bool:
        return not self.error

    def failed(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"[:200]

    def succeeded(self) -> None:
        self.error = ""

    def trim(self, queued: list[tuple[int, str, str, str | None]]) -> None:
        """Drop the oldest queued journal rows beyond the bound, counting them."""
        excess = len(queued) - MAX_QUEUED
        if excess <= 0:
            return
        lost = queued[:excess]
        del queued[:excess]
        self.dropped += excess
        self.dropped_from = lost[0][0] if self.dropped_from is None else self.dropped_from
        self.dropped_to = lost[-1][0]

    def gap(self) -> tuple[int, int, int] | None:
        """(rows lost, first received_at, last received_at), if any were lost."""
        if not self.dropped or self.dropped_from is None or self.dropped_to is None:
            return None
        return (self.dropped, self.dropped_from, self.dropped_to)

    def written(self, audits: int, gap: bool) -> None:
        """The held audit rows (the first `audits`) and the gap marker were committed."""
        for _ in range(audits):
            self.audits.popleft()
        if gap:
            self.last_gap = self.dropped
            self.dropped, self.dropped_from, self.dropped_to = 0, None, None
        self.error = ""
