"""The store's health, said out loud: a store that cannot write (a full disk, an I/O error)
and free space running out under its folder are alerts, through every channel that still
works, never a silent stop. Protection does not wait on the store: the loop keeps deciding,
the journal and the messages wait in memory (see `store.held`), and a transfer, which needs
its intent row, is refused with an alert of its own by the executor."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from assistant.core.actions import SendAlert
from assistant.core.ports import Clock
from assistant.core.values import Severity
from assistant.service.notifier import Notifier
from assistant.store.held import BALLAST
from assistant.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
SPACE_EVERY_MS = 60_000  # free space is looked at this often


def _size(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class StoreWatch:
    def __init__(
        self,
        store: SqliteStore,
        notifier: Notifier,
        clock: Clock,
        *,
        warn_free: int,
        critical_free: int,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.warn_free = warn_free
        self.critical_free = critical_free
        self.failing = ""  # the error being alerted ("" while the store writes)
        self.space_level = 0  # 0 fine, 1 below warn_free, 2 below critical_free
        self._space_at = -SPACE_EVERY_MS

    def _say(self, key: str, severity: Severity, text: str) -> None:
        self.notifier(SendAlert(key, severity, text, self.clock.now_ms()))

    def check_writes(self) -> None:
        """After each journal flush: did writing start or stop failing? (While the ballast's
        space is in use the disk is still full, whatever the last write said.)"""
        held = self.store.held
        error = held.error or (held.conserving and (self.failing or "the disk is full"))
        if error and not self.failing:
            self.failing = error
            self._say(
                "store",
                Severity.CRITICAL,
                f"cannot write the store {self.store.path} ({error}). Protection goes on:"
                f" {self.store.pending} journal rows and the messages wait in memory;"
                " transfers are refused until their intent can be recorded",
            )
        elif not error and self.failing:
            self.failing = ""
            gap = self.store.held.last_gap
            lost = f"; {gap} journal rows were lost (a gap marker says when)" if gap else ""
            self._say("store", Severity.INFO, f"the store is writable again{lost}")

    def check_space(self, now: int) -> None:
        """Free space under the store's folder, at most once a minute (every time while the
        disk is full: as soon as there is room, the ballast is laid again)."""
        conserving = self.store.held.conserving
        if now - self._space_at < SPACE_EVERY_MS and not conserving:
            return
        self._space_at = now
        try:
            stat = os.statvfs(Path(self.store.path).resolve().parent)
        except OSError as exc:
            log.warning("cannot read the free space of the store's folder: %s", exc)
            return
        free = stat.f_bavail * stat.f_frsize
        if conserving and free > 2 * BALLAST:
            self.store.restore()
        level = 2 if free < self.critical_free else 1 if free < self.warn_free else 0
        if level == self.space_level:
            return
        folder = Path(self.store.path).resolve().parent
        if level == 0:
            self._say("disk", Severity.INFO, f"free space under {folder} is back: {_size(free)}")
        else:
            limit = self.critical_free if level == 2 else self.warn_free
            self._say(
                "disk",
                Severity.CRITICAL if level == 2 else Severity.WARNING,
                f"only {_size(free)} free under {folder} (below {_size(limit)}): the store"
                " will stop writing when it runs out; protection will go on, but free space",
            )
        self.space_level = level
