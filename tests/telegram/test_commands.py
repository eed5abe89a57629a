"""Every command against the real bot stack: PTB polling the fake Bot API server, the real
service mirroring the emulator. Owners get answers; strangers get nothing (their attempts
are audited)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.emulator.server.app import Emulator
from tests.telegram.harness import OWNER, STRANGER, Harness

COMMANDS = [
    ("/help", "/status"),
    ("/start", "/deposit"),
    ("/status", "Margin ratio"),
    ("/positions", "liquidation"),
    ("/health", "maintenance margin"),
    ("/stress -10", "If every mark moves -10.00%"),
    ("/stress BTCUSDT -15", "If BTCUSDT moves -15.00%"),
    ("/alerts", "alerts"),
    ("/rules", "Deposit"),
    ("/mode confirm", "Mode set to <b>confirm</b>"),
    ("/pause", "Paused"),
    ("/mute 30m", "muted until"),
    ("/deposit 100", "Transfer <b>100.00 USDT</b>"),
    ("/reduce BTCUSDT 25%", "Reduce-only SELL"),
    ("/chart 24h", "Margin ratio, distance to liquidation and margin balance"),
    ("/status@fake_test_bot", "Margin ratio"),
]


@pytest.mark.parametrize(("text", "expected"), COMMANDS)
async def test_a_command_answers_the_owner_and_not_a_stranger(
    emulator: Emulator, tmp_path: Path, text: str, expected: str
) -> None:
    async with Harness(emulator, tmp_path) as h:
        h.fake.push_text(STRANGER, text)
        reply = await h.ask(text)
        said = reply.params.get("text", reply.params.get("caption", ""))
        assert expected in said, said
        assert reply.params["parse_mode"] == "HTML"
        assert h.fake.texts(STRANGER) == []
        assert h.service is not None
        rows = [r for r in h.service.store.audit_rows() if r["what"].startswith("chat:")]
        assert any(f"chat {OWNER}" in r["detail"] for r in rows)
        # The stranger's attempt is on record as refused, and as nothing else.
        stranger = [r for r in rows if f"chat {STRANGER}" in r["detail"]]
        assert [r["what"] for r in stranger] == ["chat:refused"], stranger
        assert "chat not in allowed_chat_ids" in stranger[0]["detail"]


async def test_in_a_group_only_the_allowed_people_are_answered(
    emulator: Emulator, tmp_path: Path
) -> None:
    group = -100200300
    chats = (OWNER, group)
    async with Harness(emulator, tmp_path, allowed_chat_ids=chats, allowed_user_ids=(OWNER,)) as h:
        h.fake.push_text(group, "/status", user_id=STRANGER, chat_type="supergroup")
        reply = await h.ask("/status", chat_id=group, user_id=OWNER, chat_type="supergroup")
        assert "Margin ratio" in reply.params["text"]
        replies = [t for t in h.fake.texts(group) if "Margin ratio" in t]
        assert len(replies) == 1  # the stranger's /status got no answer


async def test_a_command_for_another_bot_is_left_alone(emulator: Emulator, tmp_path: Path) -> None:
    async with Harness(emulator, tmp_path) as h:
        h.fake.push_text(OWNER, "/pause@some_other_bot")
        reply = await h.ask("/status")
        assert "Margin ratio" in reply.params["text"] and "PAUSED" not in reply.params["text"]
        assert h.service is not None and not h.service.effective_rules().paused
        assert not [t for t in h.fake.texts(OWNER) if "Paused" in t]
