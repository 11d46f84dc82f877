"""Chats in the store (issue 17), on SQLite and PostgreSQL: chats and their owner,
participants, what each user sees of the messages, polls, files, and what deleting a
user or a conference takes with it."""

from __future__ import annotations

import pytest

from mcu.permissions import ChatKind, ChatRole
from mcu.store import Conflict, Invalid, NotFound, Store


@pytest.fixture
async def people(store: Store) -> Store:
    for name in ("alice", "bob", "carol"):
        await store.create_user(name, "pw", "conference_list_only")
    return store


async def test_group_chat_owner_members_and_owner_change(people: Store) -> None:
    store = people
    chat = await store.create_chat(ChatKind.GROUP, "Team", "alice")
    assert (chat.kind, chat.owner) == (ChatKind.GROUP, "alice")
    assert [(m.username, m.role) for m in await store.list_chat_members(chat.id)] == [
        ("alice", ChatRole.OWNER)
    ]
    await store.add_chat_member(chat.id, "bob", ChatRole.USER)
    with pytest.raises(Conflict):
        await store.add_chat_member(chat.id, "bob", ChatRole.USER)
    with pytest.raises(Invalid):
        await store.add_chat_member(chat.id, "nobody", ChatRole.USER)
    await store.change_chat_owner(chat.id, "bob")
    roles = {m.username: m.role for m in await store.list_chat_members(chat.id)}
    assert roles == {"alice": ChatRole.ADMIN, "bob": ChatRole.OWNER}
    assert [c.id for c in await store.list_chats("bob")] == [chat.id]
    await store.update_chat_member(chat.id, "bob", left=True)
    assert await store.list_chats("bob") == []
    # Taken back after leaving, with the role given now.
    back = await store.add_chat_member(chat.id, "bob", ChatRole.USER)
    assert (back.left, back.role) == (False, ChatRole.USER)


async def test_what_each_user_sees(people: Store) -> None:
    store = people
    chat = await store.create_chat(ChatKind.GROUP, "Team", "alice")
    await store.add_chat_member(chat.id, "bob", ChatRole.USER)
    first = await store.add_message(chat.id, "alice", "alice", "text", text="one")
    second = await store.add_message(chat.id, "bob", "bob", "text", text="two",
                                     reply_to_id=first.id)
    third = await store.add_message(chat.id, "alice", "alice", "text", text="three")
    with pytest.raises(NotFound):
        await store.add_message(chat.id, "bob", "bob", "text", text="x", reply_to_id=10**6)
    await store.hide_message(second.id, "alice")
    assert [m.text for m in await store.list_messages(chat.id, "alice")] == ["one", "three"]
    assert [m.text for m in await store.list_messages(chat.id, "bob")] == ["one", "two", "three"]
    await store.update_chat_member(chat.id, "bob", cleared_through=first.id)
    assert [m.text for m in await store.list_messages(chat.id, "bob")] == ["two", "three"]
    await store.update_chat(chat.id, first_visible_message_id=third.id)
    assert [m.text for m in await store.list_messages(chat.id, "alice")] == ["three"]
    await store.update_chat(chat.id, first_visible_message_id=None)
    edited = await store.edit_message(first.id, "uno")
    assert edited.edited_at is not None and edited.text == "uno"
    assert (await store.set_pinned(first.id, True)).pinned
    assert (await store.delete_message(first.id)).deleted
    assert [m.text for m in await store.list_messages(chat.id, "bob")] == ["two", "three"]
    assert await store.clear_chat(chat.id) == 2
    assert await store.list_messages(chat.id, "alice") == []


async def test_polls(people: Store) -> None:
    store = people
    chat = await store.create_chat(ChatKind.CHANNEL, "News", "alice")
    poll = await store.add_message(chat.id, "alice", "alice", "poll",
                                   data={"question": "Lunch?", "options": ["yes", "no"]})
    await store.vote(poll.id, "alice", 0)
    await store.vote(poll.id, "bob", 1)
    assert await store.vote(poll.id, "bob", 0) == {0: 2}
    with pytest.raises(Invalid):
        await store.vote(poll.id, "bob", 2)
    assert await store.poll_tallies([poll.id]) == {poll.id: {0: 2}}


async def test_conference_and_favorites_chats_are_made_once(people: Store) -> None:
    store = people
    conference = await store.create_conference("Board", "777")
    chat = await store.conference_chat(conference.id)
    assert (chat.kind, chat.title) == (ChatKind.CONFERENCE, "Board")
    assert (await store.conference_chat(conference.id)).id == chat.id
    favorites = await store.favorites_chat("carol")
    assert (await store.favorites_chat("carol")).id == favorites.id
    assert (await store.get_chat_member(favorites.id, "carol")).role is ChatRole.FAVORITES_OWNER  # type: ignore[union-attr]
    await store.add_message(chat.id, None, "SIP phone", "text", text="hi")
    await store.delete_conference(conference.id)
    assert await store.get_chat(chat.id) is None


async def test_deleting_a_user_takes_them_out_of_chats(people: Store) -> None:
    store = people
    chat = await store.create_chat(ChatKind.GROUP, "Team", "bob")
    await store.add_chat_member(chat.id, "alice", ChatRole.USER)
    message = await store.add_message(chat.id, "bob", "bob", "text", text="kept")
    await store.hide_message(message.id, "bob")
    await store.delete_user("bob")
    assert (await store.get_chat(chat.id)).owner is None  # type: ignore[union-attr]
    assert [m.username for m in await store.list_chat_members(chat.id)] == ["alice"]
    assert [m.author for m in await store.list_messages(chat.id, "alice")] == ["bob"]


async def test_files_and_chat_deletion(people: Store) -> None:
    store = people
    chat = await store.create_chat(ChatKind.GROUP, "Team", "alice")
    row = await store.add_chat_file(chat.id, "a.txt", "text/plain", 3, "k1", "alice")
    assert (await store.get_chat_file(row.id)) == row
    await store.add_message(chat.id, "alice", "alice", "file", data={"file_id": row.id})
    assert await store.delete_chat(chat.id) == ["k1"]
    assert await store.get_chat_file(row.id) is None
