"""Test-only failpoints: `ASSISTANT_FAILPOINT=NAME` makes the process SIGKILL itself when it
reaches the named point, so crash-safety tests hit exact moments without patching code.

Points: `after-intent` (the intent row is committed, no request sent yet),
`request-in-flight` (a money-moving request has been sent, no answer yet), `after-accept`
(the exchange accepted it, the outcome row is not written yet). Off unless the variable is set.
"""

from __future__ import annotations

import os
import signal

NAMES = frozenset({"after-intent", "request-in-flight", "after-accept"})


def hit(name: str) -> None:
    if os.environ.get("ASSISTANT_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
