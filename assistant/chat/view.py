"""What the chat may see and do: a narrow, read-only view of the running service, the
records it reads and writes (the audit table, the health series), and the inbox it puts
its events on. The chat changes behaviour only through events; it never holds the service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from assistant.core.actions import MoneyAction
from assistant.core.events import DriftDetected, Event
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import Memory
from assistant.service.scheduler import Timings


class View(Protocol):
    """The service as the chat sees it (the loop answers to this)."""

    @property
    def state(self) -> MirrorState: ...
    @property
    def memory(self) -> Memory: ...
    @property
    def rules(self) -> Rules | None: ...  # the config's; None when mirroring only
    @property
    def timings(self) -> Timings: ...
    @property
    def drift(self) -> Sequence[DriftDetected]: ...
    def effective_rules(self) -> Rules: ...


class Records(Protocol):
    """The part of the store the chat uses (the store answers to this)."""

    def audit(self, at: int, decision_id: str, what: str, detail: str) -> None: ...
    def recent_audit(self, prefix: str, limit: int) -> list[dict[str, Any]]: ...
    def health_since(self, since: int, until: int) -> list[dict[str, Any]]: ...


class Mailbox(Protocol):
    """Where the chat's events and a person's answers go (the inbox answers to this)."""

    async def put(self, event: Event, raw: str | None, received_at: int) -> None: ...
    def answer(self, action: MoneyAction, by: str, why: str = "") -> None: ...
