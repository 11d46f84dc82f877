"""Seed 004's chat tables in `authorize`: every role x action of both tables, against the
test's own copy of the seed text (`tests.chat.seed004`), plus the rules around them."""

from __future__ import annotations

import pytest

from mcu.permissions import (
    Actor,
    ChatAction,
    ChatKind,
    ChatRole,
    ChatTarget,
    Privilege,
    authorize,
)
from tests.chat.seed004 import ACTIONS, EXPECTED

ME = Actor("alice", Privilege.CONFERENCE_LIST_ONLY)
# A regular chat is a group chat, a conference chat or a Favorites chat.
KINDS = {"regular": [ChatKind.GROUP, ChatKind.CONFERENCE, ChatKind.FAVORITES],
         "channel": [ChatKind.CHANNEL]}


def _cases() -> list[object]:
    return [
        pytest.param(kind, role, action, allowed, id=f"{kind}-{role}-{action}")
        for table, cells in EXPECTED.items()
        for (role, action), allowed in cells.items()
        for kind in KINDS[table]
    ]


@pytest.mark.parametrize(("kind", "role", "action", "allowed"), _cases())
def test_seed_cell(kind: ChatKind, role: str, action: str, allowed: bool) -> None:
    decision = authorize(ME, ChatAction(action), ChatTarget(kind, ChatRole(role)))
    assert decision.allowed is allowed, decision.rule
    assert role in decision.rule and action in decision.rule


def test_every_action_is_in_both_tables() -> None:
    assert len(ACTIONS) == 28
    assert set(ACTIONS) == set(ChatAction) - {ChatAction.DELETE_CHAT}
    for cells in EXPECTED.values():
        assert {action for _, action in cells} == set(ACTIONS)


def test_writer_is_a_channel_role_only() -> None:
    decision = authorize(ME, ChatAction.READ, ChatTarget(ChatKind.GROUP, ChatRole.WRITER))
    assert not decision.allowed and "no writer role" in decision.rule


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        (ChatTarget(ChatKind.GROUP, None), "chat: not a participant"),
        (ChatTarget(ChatKind.GROUP, ChatRole.OWNER, left=True), "chat: left the chat"),
        (ChatTarget(ChatKind.GROUP, ChatRole.OWNER, blocked=True), "chat: blocked in this chat"),
    ],
)
def test_outsiders_do_nothing(target: ChatTarget, rule: str) -> None:
    for action in ChatAction:
        decision = authorize(ME, action, target)
        assert (decision.allowed, decision.rule) == (False, rule)


def test_revoked_send_right_narrows_the_role() -> None:
    muted = ChatTarget(ChatKind.GROUP, ChatRole.ADMIN, can_send=False)
    assert authorize(ME, ChatAction.SEND, muted).rule == "chat: right to send revoked"
    assert authorize(ME, ChatAction.READ, muted).allowed
    assert authorize(ME, ChatAction.DELETE_OWN_FOR_ME, muted).allowed


def test_only_the_owner_deletes_a_group_or_channel() -> None:
    for kind in (ChatKind.GROUP, ChatKind.CHANNEL):
        assert authorize(ME, ChatAction.DELETE_CHAT, ChatTarget(kind, ChatRole.OWNER)).allowed
        assert not authorize(ME, ChatAction.DELETE_CHAT, ChatTarget(kind, ChatRole.ADMIN)).allowed
    for kind in (ChatKind.CONFERENCE, ChatKind.FAVORITES):
        role = ChatRole.FAVORITES_OWNER if kind is ChatKind.FAVORITES else ChatRole.CONF_OWNER
        assert not authorize(ME, ChatAction.DELETE_CHAT, ChatTarget(kind, role)).allowed
