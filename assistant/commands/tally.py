"""What `demo` and `simulate` count, the same way: every message the service sent, split into
the rules' alerts (margin ratio, distance, stale data, drift, liquidation ...) and the
notices of money actions (done, dry-run, failed ...), each said with what it counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from assistant.core import format as fmt
from assistant.core.actions import SendAlert


@dataclass
class Tally:
    alerts: Counter[str] = field(default_factory=Counter)  # severity -> the rules' alerts
    notices: Counter[str] = field(default_factory=Counter)  # outcome -> action notices

    def heard(self, alert: SendAlert) -> None:
        if alert.outcome is None:
            self.alerts[str(alert.severity)] += 1
        else:
            self.notices[str(alert.outcome)] += 1

    @property
    def alert_count(self) -> int:
        return sum(self.alerts.values())

    @property
    def notice_count(self) -> int:
        return sum(self.notices.values())

    def lines(self) -> list[str]:
        """Two summary lines, aligned like the others."""
        severities = ", ".join(f"{n} {k}" for k, n in sorted(self.alerts.items()))
        outcomes = ", ".join(f"{n} {fmt.outcome(k)}" for k, n in sorted(self.notices.items()))
        return [
            f"alerts:            {self.alert_count} from the rules"
            + (f" ({severities})" if severities else ""),
            f"action notices:    {self.notice_count}" + (f" ({outcomes})" if outcomes else ""),
        ]
