"""The protocol words as enums (`core.values`): read from the config and the store as members,
written exactly as the strings they were before."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.core.events import ActionSettled, ModeSet
from assistant.core.rules.config import Rules
from assistant.core.rules.control import MODES, control, effective, muted
from assistant.core.rules.memory import Memory
from assistant.core.values import Mode, Outcome, Policy, Severity
from assistant.service.settings import load_settings, rules_from
from assistant.store.codec import decode_event, encode_event
from assistant.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_members_are_their_words() -> None:
    assert [m.value for m in Severity] == ["info", "warning", "critical"]
    assert [m.value for m in Mode] == ["dry-run", "confirm", "auto"]
    assert [m.value for m in Policy] == ["largest-mm", "largest-loss", "priority"]
    assert {m.value for m in Outcome} == {
        "done",
        "failed",
        "unknown",
        "abandoned",
        "dry-run",
        "awaiting-confirmation",
        "cancelled",
        "expired",
        "replayed",
    }
    for member in (
        Severity.CRITICAL,
        Mode.DRY_RUN,
        Policy.LARGEST_MM,
        Outcome.AWAITING_CONFIRMATION,
    ):
        assert member == member.value and hash(member) == hash(member.value)
        assert f"{member}" == str(member) == member.value
        assert json.dumps({"x": member}) == json.dumps({"x": member.value})
    assert "auto" in MODES and "sideways" not in MODES
    assert {"critical": 1}[Severity.CRITICAL] == 1  # the notifier's tables keyed by words


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_outcome_is_journaled_as_its_word_and_read_back_as_the_member(
    outcome: Outcome, tmp_path: Path
) -> None:
    event = ActionSettled("deposit-1-0", "deposit", outcome, "detail", 5, Decimal("1.5"))
    as_word = ActionSettled("deposit-1-0", "deposit", outcome.value, "detail", 5, Decimal("1.5"))  # type: ignore[arg-type]
    assert encode_event(event) == encode_event(as_word)
    assert f'"outcome":"{outcome.value}"' in encode_event(event)
    store = SqliteStore(tmp_path / "j.db")
    store.append(event, 5)
    store.flush()
    store.settle_intent("deposit-1-0", outcome, {"detail": "x"}, 6)
    ((_, back),) = list(store.events())
    store.close()
    assert isinstance(back, ActionSettled) and back.outcome is outcome
    assert decode_event(encode_event(as_word)) == event


def test_the_config_gives_members_and_the_mode_survives_chat_and_the_store(
    tmp_path: Path,
) -> None:
    text = (ROOT / "config" / "assistant.example.toml").read_text()
    text = text.replace('mode = "dry-run"', 'mode = "confirm"')
    text = text.replace('policy = "largest-mm"', 'policy = "largest-loss"')
    assert 'policy = "largest-loss"' in text
    path = tmp_path / "assistant.toml"
    path.write_text(text)
    settings = load_settings(path)
    rules = rules_from(settings)
    assert rules.mode is Mode.CONFIRM and rules.reduce.policy is Policy.LARGEST_LOSS
    assert settings.actions.mode == "confirm"  # the config's own model keeps its words
    assert Rules().mode is Mode.DRY_RUN and Rules().reduce.policy is Policy.LARGEST_MM

    memory = control(Memory(), ModeSet("auto", "someone", 1), rules)
    assert memory.mode == "auto" and effective(rules, memory).mode is Mode.AUTO
    store = SqliteStore(tmp_path / "m.db")
    store.save_memory(memory, 2)
    loaded = store.load_memory(Memory)
    store.close()
    assert effective(rules, loaded).mode is Mode.AUTO
    back = control(loaded, ModeSet("confirm", "someone", 3), rules)  # the file's mode again
    assert back.mode == "" and effective(rules, back) is rules
    ignored = control(loaded, ModeSet("sideways", "someone", 4), rules)
    assert ignored == loaded


def test_muting_spares_critical_alerts_whatever_spelling() -> None:
    memory = Memory(muted_until=100)
    assert muted(memory, Severity.WARNING, 50) and muted(memory, "info", 50)
    assert not muted(memory, Severity.CRITICAL, 50) and not muted(memory, "critical", 50)
