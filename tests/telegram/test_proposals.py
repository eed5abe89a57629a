"""`confirm` mode: each action the rules decide is shown with Confirm and Cancel, and happens
only on Confirm, once. The console chat asks the same questions with the same handlers."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from assistant.chat.console import ConsoleChat
from assistant.core.rules.config import Rules
from assistant.emulator.server.app import Emulator
from tests.telegram.harness import Harness
from tests.telegram.test_confirmations import wait_until

# The crash account starts 6.3% from liquidation: a deposit triggered at once.
EAGER = replace(
    Rules(),
    mode="confirm",
    deposit=replace(Rules().deposit, trigger_distance=Decimal("0.10"), cooldown_ms=0),
    reduce=replace(Rules().reduce, enabled=False),
)


async def test_a_proposed_deposit_moves_only_on_confirm_and_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=EAGER) as h:
        proposal = await h.take(lambda c: "The rules propose" in str(c.params.get("text")))
        assert (
            "transfer" in proposal.params["text"]
            and "margin ratio after" in proposal.params["text"]
        )
        confirm, _ = h.buttons(proposal)
        assert emulator.engine.transfers == []
        done = await h.press(confirm)
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
        await h.press(confirm)
        assert h.service is not None
        done_rows = [r for r in h.service.store.audit_rows() if r["what"] == "done"]
        assert len(done_rows) == 1
    assert len(emulator.engine.transfers) == 1


async def test_a_cancelled_proposal_moves_nothing_and_frees_the_cap(
    emulator: Emulator, tmp_path: Path
) -> None:
    slow = replace(EAGER, deposit=replace(EAGER.deposit, cooldown_ms=600_000))
    async with Harness(emulator, tmp_path, rules=slow) as h:
        proposal = await h.take(lambda c: "The rules propose" in str(c.params.get("text")))
        _, cancel = h.buttons(proposal)
        await h.press(cancel)
        service = h.service
        assert service is not None
        await wait_until(lambda: not service.memory.pending)
        assert service.memory.deposited_today(service.state.updated_at) == 0
    assert emulator.engine.transfers == []


async def test_the_console_chat_shares_the_commands_and_confirmations(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path) as h:
        assert h.chats is not None
        out = io.StringIO()
        console = ConsoleChat(out, handler=h.chats.commands)
        await console.line("/status")
        assert "Margin ratio" in out.getvalue() and "<b>" not in out.getvalue()
        await console.line("/deposit 75")
        token = out.getvalue().split("type: /confirm ")[1].split()[0]
        await console.line(f"/confirm {token}")
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
        await console.line(f"/confirm {token}")
        assert "no longer works" in out.getvalue()
        await asyncio.sleep(0)
    assert [Decimal(t["amount"]) for t in emulator.engine.transfers] == [Decimal(75)]
