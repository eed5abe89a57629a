"""The closed sets of words the rules, the executor and the config speak, as enums.

Each is a `StrEnum`: a member is its string (it compares equal to it, hashes like it, formats
as it and is written to JSON and SQLite as it), so the store, the config files and every
output read and write the same words as before.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How loud an alert is (critical ones are never muted)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Outcome(StrEnum):
    """The executor's last word on a decision (`ActionSettled.outcome`)."""

    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"  # it may have moved: the exchange could not say
    ABANDONED = "abandoned"  # not found after a restart, or halted before a retry; not sent
    DRY_RUN = "dry-run"  # decided and announced only (dry-run mode, or paused)
    AWAITING_CONFIRMATION = "awaiting-confirmation"  # confirm mode, and nobody can confirm
    CANCELLED = "cancelled"  # a proposal a person declined
    EXPIRED = "expired"  # a proposal nobody confirmed in time
    REPLAYED = "replayed"  # a replay's decision, never carried out; the caps count it as moved


class Mode(StrEnum):
    """How the rules' money actions are taken."""

    DRY_RUN = "dry-run"
    CONFIRM = "confirm"
    AUTO = "auto"


class Policy(StrEnum):
    """Which cross position a reduction takes from."""

    LARGEST_MM = "largest-mm"
    LARGEST_LOSS = "largest-loss"
    PRIORITY = "priority"
