"""The rules a user writes in the config file, as plain values (the shell validates them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from assistant.core.values import Mode, Policy

D = Decimal


@dataclass(frozen=True, slots=True)
class AlertRules:
    ratio_tiers: tuple[Decimal, ...] = (D("0.80"), D("0.85"), D("0.90"))
    ratio_band: Decimal = D("0.02")  # hysteresis: a tier re-arms below tier − band
    distance_tiers: tuple[Decimal, ...] = (D("0.10"), D("0.06"), D("0.03"))  # worse as they fall
    distance_band: Decimal = D("0.01")
    isolated_ratio_tiers: tuple[Decimal, ...] = (D("0.80"), D("0.90"))
    cooldown_ms: int = 300_000  # the same tier alerts again only after this
    stale_after_ms: int = 15_000  # no mark for a held symbol for this long: an alert
    drift: bool = True


@dataclass(frozen=True, slots=True)
class AssetCaps:
    """`[deposit.assets.ASSET]`: what a pool of another margin asset may be topped up with."""

    max_per_action: Decimal
    max_per_day: Decimal


@dataclass(frozen=True, slots=True)
class DepositRule:
    enabled: bool = True
    trigger_ratio: Decimal | None = D("0.70")
    trigger_distance: Decimal | None = D("0.06")
    target_ratio: Decimal = D("0.50")
    target_distance: Decimal = D("0.10")
    max_per_action: Decimal = D("1000")
    max_per_day: Decimal = D("3000")
    min_amount: Decimal = D("5")
    cooldown_ms: int = 30_000
    # Multi-Assets and credits accounts are topped up with `asset`, under the caps above; in
    # single-asset mode those caps are USDT's pool's, and another asset's pool is topped up
    # only under its own `assets[...]` caps (without them it is alerted, never funded).
    asset: str = "USDT"
    assets: Mapping[str, AssetCaps] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReduceRule:
    enabled: bool = True
    trigger_ratio: Decimal | None = D("0.80")
    trigger_distance: Decimal | None = D("0.03")
    target_ratio: Decimal = D("0.60")
    target_distance: Decimal | None = D("0.05")  # and no uniform move below this liquidates
    policy: Policy = Policy.LARGEST_MM
    priority: tuple[str, ...] = ()
    max_fraction: Decimal = D("0.5")  # of a position, per step
    fee_rate: Decimal = D("0.0005")
    cooldown_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class Rules:
    alerts: AlertRules = field(default_factory=AlertRules)
    deposit: DepositRule = field(default_factory=DepositRule)
    reduce: ReduceRule = field(default_factory=ReduceRule)
    mode: Mode = Mode.DRY_RUN
    paused: bool = False  # the kill switch: no money moves while set
    version: str = ""  # a hash of the config that made these rules

    @property
    def distance_horizon(self) -> Decimal:
        """The largest distance any rule asks about: beyond it, the exact solve is not needed."""
        candidates = [*self.alerts.distance_tiers]
        candidates += [t + self.alerts.distance_band for t in self.alerts.distance_tiers]
        for value in (
            self.deposit.trigger_distance,
            self.deposit.target_distance,
            self.reduce.trigger_distance,
            self.reduce.target_distance,
        ):
            if value is not None:
                candidates.append(value)
        return max(candidates, default=D(0))


def scaled(rules: Rules, speed: float) -> Rules:
    """Rules in `auto` with every cooldown run `speed` times faster, like the scenario."""
    a, d, r = rules.alerts, rules.deposit, rules.reduce
    return replace(
        rules,
        mode=Mode.AUTO,
        alerts=replace(
            a, cooldown_ms=int(a.cooldown_ms / speed), stale_after_ms=max(a.stale_after_ms, 60_000)
        ),
        deposit=replace(d, cooldown_ms=int(d.cooldown_ms / speed)),
        reduce=replace(r, cooldown_ms=int(r.cooldown_ms / speed)),
    )
