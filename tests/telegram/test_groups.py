"""Who may answer which button, in private chats and groups: a stranger changes nothing and
is on record; a button works only in the chat it was sent to; a person's own question only
for that person; a proposal once, in whichever chat answers first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assistant.core.rules.config import Rules
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from assistant.service.bootstrap import Runtime
from tests.telegram.harness import OWNER, STRANGER, TOKEN, Harness, is_alert
from tests.telegram.test_confirmations import wait_until
from tests.telegram.test_proposals import EAGER

GROUP = -100200300
FRIEND = 5151  # allowed, like the owner, in the group
PEOPLE: dict[str, Any] = {"allowed_chat_ids": (OWNER, GROUP), "allowed_user_ids": (OWNER, FRIEND)}
IN_GROUP: dict[str, Any] = {"chat_id": GROUP, "chat_type": "supergroup"}


def audited(service: Runtime | None, what: str, *parts: str) -> list[str]:
    assert service is not None
    rows = service.store.audit_rows()
    return [r["detail"] for r in rows if r["what"] == what and all(p in r["detail"] for p in parts)]


def said(h: Harness, chat: int) -> list[str]:
    """What the bot said in a chat (messages and edits), alerts aside."""
    return [
        str(c.params.get("text"))
        for c in h.fake.calls
        if c.method in ("sendMessage", "editMessageText")
        and str(c.params.get("chat_id")) == str(chat)
        and not is_alert(c)
    ]


def reduce_orders(emulator: Emulator) -> list[dict[str, Any]]:
    return [o for o in emulator.engine.orders if o["clientOrderId"].startswith("mg-")]


async def test_a_stranger_in_a_group_changes_nothing_and_is_on_record(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, **PEOPLE) as h:
        h.fake.push_text(GROUP, "/deposit 100", user_id=STRANGER, chat_type="supergroup")
        await wait_until(lambda: audited(h.service, "chat:refused", f"user {STRANGER}"))
        assert said(h, GROUP) == []  # no answer, no question
        question = await h.ask("/deposit 100", user_id=OWNER, **IN_GROUP)
        confirm, cancel = h.buttons(question)
        for data in (confirm, cancel):
            h.fake.push_press(GROUP, data, 1, user_id=STRANGER, chat_type="supergroup")
        await wait_until(lambda: len(audited(h.service, "chat:refused", f"user {STRANGER}")) == 3)
        refused = audited(h.service, "chat:refused", f"user {STRANGER}")
        assert "message '/deposit 100'" in refused[0] and f"button '{confirm}'" in refused[1]
        assert all("user not in allowed_user_ids" in d for d in refused)
        assert not audited(h.service, "chat:/deposit", f"user {STRANGER}")
        assert emulator.engine.transfers == []
        assert said(h, GROUP) == [question.params["text"]]  # the question, untouched
        # The stranger's presses used nothing up: the owner's Confirm works, once.
        done = await h.press(confirm, user_id=OWNER, **IN_GROUP)
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
    assert len(emulator.engine.transfers) == 1


async def test_a_group_without_a_user_list_is_refused_at_run_time_too(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The config refuses a group (a negative id) without `allowed_user_ids`; should a group's
    update still come from a listed chat, the bot's gate refuses it: nobody may command the
    bot from a group whose people are not listed, not even the owner."""
    async with Harness(emulator, tmp_path) as h:  # OWNER's chat only, no user list
        h.fake.push_text(OWNER, "/deposit 100", user_id=STRANGER, chat_type="group")
        question = await h.ask("/deposit 100")  # the owner, in the private chat
        confirm, _ = h.buttons(question)
        h.fake.push_press(OWNER, confirm, 1, user_id=OWNER, chat_type="group")
        why = "a group chat, and allowed_user_ids is empty"
        await wait_until(lambda: len(audited(h.service, "chat:refused", why)) == 2)
        assert emulator.engine.transfers == []
        assert len([t for t in said(h, OWNER) if "Transfer" in t]) == 1  # the owner's
        done = await h.press(confirm)  # in the private chat it is the owner's, and works
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
    assert len(emulator.engine.transfers) == 1


async def test_a_button_works_only_in_the_chat_it_was_sent_to(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, **PEOPLE) as h:
        question = await h.ask("/deposit 100")  # asked in the owner's private chat
        confirm, cancel = h.buttons(question)
        for data in (confirm, cancel):  # the same person, the right token, the wrong chat
            notice = await h.press(data, user_id=OWNER, **IN_GROUP)
            assert notice.method == "answerCallbackQuery"
            assert "belongs to another chat" in notice.params["text"]
        assert emulator.engine.transfers == []
        assert len(audited(h.service, "chat:button", f"refused: a button of chat {OWNER}")) == 2
        assert said(h, GROUP) == []
        done = await h.press(confirm)  # where it was sent, it works
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
    assert len(emulator.engine.transfers) == 1


def moved(count: int) -> Any:
    return lambda service, emulator: (
        len(emulator.engine.transfers) + len(reduce_orders(emulator)) == count
    )


# A manual question, the rules in force, what its Confirm says, and whether it took effect.
MANUAL = [
    ("/deposit 100", replace(Rules(), mode="auto"), "Confirmed", moved(1)),
    ("/reduce BTCUSDT 10%", replace(Rules(), mode="auto"), "Confirmed", moved(1)),
    (
        "/mode auto",
        replace(Rules(), mode="dry-run"),
        "Done",
        lambda service, emulator: service.effective_rules().mode == "auto",
    ),
    (
        "/resume",
        replace(Rules(), mode="auto", paused=True),
        "Resumed",
        lambda service, emulator: not service.effective_rules().paused,
    ),
]


@pytest.mark.parametrize(("text", "rules", "word", "took"), MANUAL, ids=[m[0] for m in MANUAL])
async def test_only_the_person_who_asked_can_answer_their_question(
    emulator: Emulator, tmp_path: Path, text: str, rules: Rules, word: str, took: Any
) -> None:
    async with Harness(emulator, tmp_path, rules=rules, **PEOPLE) as h:
        service = h.service
        assert service is not None
        question = await h.ask(text, user_id=OWNER, **IN_GROUP)
        confirm, cancel = h.buttons(question)
        for data in (confirm, cancel):  # another allowed person in the same group
            notice = await h.press(data, user_id=FRIEND, **IN_GROUP)
            assert notice.method == "answerCallbackQuery"
            assert "Only the person who asked" in notice.params["text"]
        assert len(audited(service, "chat:button", f"refused: asked by user {OWNER}")) == 2
        assert service.effective_rules() == rules and moved(0)(service, emulator)
        done = await h.press(confirm, user_id=OWNER, **IN_GROUP)  # the person who asked
        assert word in done.params["text"], done.params["text"]
        await wait_until(lambda: took(service, emulator))
        assert len(emulator.engine.transfers) + len(reduce_orders(emulator)) <= 1


async def test_a_proposal_asked_in_two_chats_is_answered_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=EAGER, **PEOPLE) as h:

        def proposed(chat: int) -> Any:
            return lambda c: (
                c.method == "sendMessage"
                and str(c.params.get("chat_id")) == str(chat)
                and "The rules propose" in str(c.params.get("text"))
            )

        mine = h.buttons(await h.take(proposed(OWNER)))
        theirs = h.buttons(await h.take(proposed(GROUP)))
        assert set(mine).isdisjoint(theirs)  # a token per chat
        # Any allowed person of the group may answer the rules' question there.
        done = await h.press(theirs[0], user_id=FRIEND, **IN_GROUP)
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
        # The owner's copy is closed, and its buttons no longer work.
        closed = await h.take(
            lambda c: (
                c.method == "editMessageText"
                and str(c.params.get("chat_id")) == str(OWNER)
                and "Confirmed" in str(c.params.get("text"))
            )
        )
        assert "reply_markup" not in closed.params
        for data in mine:
            late = await h.press(data)
            assert "no longer works" in late.params["text"]
        assert len(audited(h.service, "done")) == 1
    assert len(emulator.engine.transfers) == 1


async def test_a_copy_delivered_after_the_answer_is_closed_at_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The owner's chat cannot take messages when the rules propose; the group answers; when
    the owner's copy finally goes out, it is edited to say how the question ended."""
    fake = FakeBotApi(TOKEN)
    fake.blocked.add(OWNER)  # from the start: the proposal cannot reach the owner's chat
    async with Harness(emulator, tmp_path, rules=EAGER, fake=fake, **PEOPLE) as h:
        await wait_until(lambda: any(c.status == 403 for c in fake.calls))
        theirs = await h.take(
            lambda c: (
                c.method == "sendMessage"
                and str(c.params.get("chat_id")) == str(GROUP)
                and "The rules propose" in str(c.params.get("text"))
            )
        )
        done = await h.press(h.buttons(theirs)[0], user_id=FRIEND, **IN_GROUP)
        assert "Confirmed" in done.params["text"]
        h.fake.blocked.discard(OWNER)
        late = await h.take(
            lambda c: (
                c.method == "sendMessage"
                and c.status == 200
                and str(c.params.get("chat_id")) == str(OWNER)
                and "The rules propose" in str(c.params.get("text"))
            ),
            timeout=20,
        )
        closed = await h.take(
            lambda c: (
                c.method == "editMessageText"
                and str(c.params.get("chat_id")) == str(OWNER)
                and "Confirmed" in str(c.params.get("text"))
            )
        )
        assert closed.at >= late.at
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
    assert len(emulator.engine.transfers) == 1
