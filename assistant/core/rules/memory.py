"""What the rules remember between evaluations: alert levels, when each alert and action last
happened, today's deposits, and decisions still waiting for their outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

DAY_MS = 86_400_000
NEVER = -(2**62)  # "long ago": no cooldown is running


def decided_day(decision_id: str) -> int | None:
    """The UTC day a decision was made, from its id ("deposit-<ms>-<n>"); None if not ours.
    A booking counts against the cap of the day it was decided, whenever it settles."""
    parts = decision_id.split("-")
    return int(parts[1]) // DAY_MS if len(parts) == 3 and parts[1].isdigit() else None


@dataclass(frozen=True, slots=True)
class Memory:
    levels: Mapping[str, int] = field(default_factory=dict)  # alert key -> active tier (-1: none)
    sent_at: Mapping[str, int] = field(default_factory=dict)  # alert key:tier -> last sent
    deposit_at: int = NEVER
    deposit_day: int = -1  # UTC day number of `deposit_total`
    deposit_total: Decimal = Decimal(0)
    reduce_at: int = NEVER
    pending: frozenset[str] = frozenset()  # decision ids not yet settled
    booked: Mapping[str, Decimal] = field(default_factory=dict)  # USDT booked per pending move
    decisions: int = 0  # a counter, so two decisions in one millisecond differ
    # Set from chat; they hold while the config file is the one they were set under.
    mode: str = ""  # "" = the config file's mode
    paused: bool | None = None  # None = the config file's
    muted_until: int = NEVER  # info and warning alerts are not sent before this
    overrides_version: str = ""  # the config version the chat overrides were set under
    stale_check_at: int = NEVER  # no held mark can turn stale before this
    stale_active: bool = False  # some held mark is stale right now
    blind_since: int | None = None  # health has not been computed since (None: it is)
    assuming: frozenset[str] = frozenset()  # symbols whose assumed brackets were announced
    # Early warnings the real marks have yet to confirm or withdraw: "METRIC:TIER" -> when.
    early_open: Mapping[str, int] = field(default_factory=dict)
    # Deposits of other assets than USDT: today's totals (day `deposit_day`), and the asset of
    # each pending one (a decision absent here moves USDT).
    asset_totals: Mapping[str, Decimal] = field(default_factory=dict)
    booked_assets: Mapping[str, str] = field(default_factory=dict)

    def deposited_today(self, now: int, asset: str = "USDT") -> Decimal:
        if self.deposit_day != now // DAY_MS:
            return Decimal(0)
        if asset == "USDT":
            return self.deposit_total
        return self.asset_totals.get(asset, Decimal(0))

    def pending_deposits(self, asset: str = "USDT") -> Decimal:
        """`asset` decided for spot → futures deposits whose outcome is not in yet."""
        return sum(
            (
                v
                for k, v in self.booked.items()
                if k.startswith("deposit-") and self.booked_assets.get(k, "USDT") == asset
            ),
            Decimal(0),
        )


def decided(memory: Memory, decision_id: str) -> Memory:
    """A decision made: pending until its outcome settles it, and counted (ids differ)."""
    return replace(memory, pending=memory.pending | {decision_id}, decisions=memory.decisions + 1)
