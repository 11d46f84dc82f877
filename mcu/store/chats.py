"""Chats (issue 17) in the store: chats, participants, messages, polls and file rows.

`ChatRepository` is mixed into `Store`, so these are `Store` methods, each one
transaction, returning plain records. Permission rules live in `mcu.permissions`; only
invariants of the data are checked here (one conference chat per conference, one
Favorites per user, the owner is a participant with the `owner` role).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcu.permissions import ChatKind, ChatRole
from mcu.store.errors import Conflict, Invalid, NotFound
from mcu.store.models import (
    Chat,
    ChatFile,
    ChatHiddenMessage,
    ChatMessage,
    ChatParticipant,
    ChatPollVote,
    Conference,
    User,
    utcnow,
)
from mcu.store.records import ChatFileRecord, ChatMemberRecord, ChatRecord, MessageRecord

CHAT_FIELDS = frozenset({"title", "icon", "first_visible_message_id"})
MEMBER_FIELDS = frozenset({"role", "can_send", "blocked", "left", "cleared_through"})


class ChatRepository:
    """The chat half of `Store` (needs its `_transaction`)."""

    def _transaction(
        self, unique: Sequence[str] = ()
    ) -> AbstractAsyncContextManager[AsyncSession]:
        raise NotImplementedError

    # Chats ---------------------------------------------------------------------------

    async def create_chat(self, kind: ChatKind, title: str, owner: str) -> ChatRecord:
        """A group chat or channel; its creator joins as `owner`."""
        if kind not in (ChatKind.GROUP, ChatKind.CHANNEL):
            raise Invalid("type", "must be group or channel")
        async with self._transaction() as session:
            await _need_user(session, owner, "owner")
            row = Chat(kind=kind, title=title, owner=owner, created_at=utcnow())
            session.add(row)
            await session.flush()
            session.add(_member(row.id, owner, ChatRole.OWNER))
            return ChatRecord.from_row(row)

    async def conference_chat_file_keys(self, conference_id: int) -> list[str]:
        """The storage keys of the files in the conference's chat (to remove from disk
        when the conference is deleted)."""
        query = (
            select(ChatFile.storage_key)
            .join(Chat, Chat.id == ChatFile.chat_id)
            .where(Chat.conference_id == conference_id)
        )
        async with self._transaction() as session:
            return list(await session.scalars(query))

    async def get_chat(self, chat_id: int) -> ChatRecord | None:
        async with self._transaction() as session:
            row = await session.get(Chat, chat_id)
            return None if row is None else ChatRecord.from_row(row)

    async def conference_chat(self, conference_id: int) -> ChatRecord:
        """The conference's chat, made on first use (titled after the conference)."""
        async with self._transaction(unique=("conference_id",)) as session:
            row = await session.scalar(select(Chat).where(Chat.conference_id == conference_id))
            if row is None:
                conference = await session.get(Conference, conference_id)
                if conference is None:
                    raise NotFound("conference", conference_id)
                row = Chat(kind=ChatKind.CONFERENCE, title=conference.name,
                           conference_id=conference_id, created_at=utcnow())
                session.add(row)
                await session.flush()
            return ChatRecord.from_row(row)

    async def favorites_chat(self, username: str) -> ChatRecord:
        """The user's Favorites, made on first use, with them as `favorites_owner`."""
        async with self._transaction() as session:
            row = await session.scalar(
                select(Chat).where(Chat.kind == ChatKind.FAVORITES, Chat.owner == username)
            )
            if row is None:
                await _need_user(session, username, "owner")
                row = Chat(kind=ChatKind.FAVORITES, title="Favorites", owner=username,
                           created_at=utcnow())
                session.add(row)
                await session.flush()
                session.add(_member(row.id, username, ChatRole.FAVORITES_OWNER))
            return ChatRecord.from_row(row)

    async def list_chats(self, username: str) -> list[ChatRecord]:
        """The chats the user takes part in and has not left, oldest first."""
        query = (
            select(Chat)
            .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
            .where(ChatParticipant.username == username, ChatParticipant.left.is_(False))
            .order_by(Chat.id)
        )
        async with self._transaction() as session:
            return [ChatRecord.from_row(r) for r in await session.scalars(query)]

    async def update_chat(self, chat_id: int, **changes: Any) -> ChatRecord:
        unknown = set(changes) - CHAT_FIELDS
        if unknown:
            raise Invalid(sorted(unknown)[0], "unknown chat field")
        async with self._transaction() as session:
            row = await _chat_row(session, chat_id)
            first = changes.get("first_visible_message_id")
            if first is not None:
                await _message_in(session, chat_id, first)
            for field, value in changes.items():
                setattr(row, field, value)
            await session.flush()
            return ChatRecord.from_row(row)

    async def change_chat_owner(self, chat_id: int, new_owner: str) -> ChatRecord:
        """`new_owner` becomes the owner (joining if need be); the old owner an admin."""
        async with self._transaction() as session:
            row = await _chat_row(session, chat_id)
            await _need_user(session, new_owner, "owner")
            if row.owner is not None and row.owner != new_owner:
                old = await session.get(ChatParticipant, (chat_id, row.owner))
                if old is not None:
                    old.role = ChatRole.ADMIN
            member = await session.get(ChatParticipant, (chat_id, new_owner))
            if member is None:
                session.add(_member(chat_id, new_owner, ChatRole.OWNER))
            else:
                member.role, member.left, member.blocked = ChatRole.OWNER, False, False
            row.owner = new_owner
            await session.flush()
            return ChatRecord.from_row(row)

    async def delete_chat(self, chat_id: int) -> list[str]:
        """Delete the chat and everything in it; returns its files' storage keys."""
        async with self._transaction() as session:
            await _chat_row(session, chat_id)
            keys = list(await session.scalars(
                select(ChatFile.storage_key).where(ChatFile.chat_id == chat_id)))
            # Explicit as well as ON DELETE CASCADE, as for conferences.
            await _delete_chat_rows(session, chat_id)
            return keys

    # Participants --------------------------------------------------------------------

    async def get_chat_member(self, chat_id: int, username: str) -> ChatMemberRecord | None:
        async with self._transaction() as session:
            row = await session.get(ChatParticipant, (chat_id, username))
            return None if row is None else ChatMemberRecord.from_row(row)

    async def list_chat_members(self, chat_id: int) -> list[ChatMemberRecord]:
        query = (
            select(ChatParticipant)
            .where(ChatParticipant.chat_id == chat_id)
            .order_by(ChatParticipant.joined_at, ChatParticipant.username)
        )
        async with self._transaction() as session:
            return [ChatMemberRecord.from_row(r) for r in await session.scalars(query)]

    async def add_chat_member(
        self, chat_id: int, username: str, role: ChatRole
    ) -> ChatMemberRecord:
        """Add a user (or take back one who left, with the new role); 409 if present."""
        async with self._transaction() as session:
            await _chat_row(session, chat_id)
            await _need_user(session, username, "username")
            row = await session.get(ChatParticipant, (chat_id, username))
            if row is not None and not row.left:
                raise Conflict("username", username)
            if row is None:
                row = _member(chat_id, username, role)
                session.add(row)
            else:
                row.role, row.left, row.joined_at = role, False, utcnow()
            await session.flush()
            return ChatMemberRecord.from_row(row)

    async def update_chat_member(
        self, chat_id: int, username: str, **changes: Any
    ) -> ChatMemberRecord:
        unknown = set(changes) - MEMBER_FIELDS
        if unknown:
            raise Invalid(sorted(unknown)[0], "unknown participant field")
        async with self._transaction() as session:
            row = await session.get(ChatParticipant, (chat_id, username))
            if row is None:
                raise NotFound("participant", username)
            for field, value in changes.items():
                setattr(row, field, value)
            await session.flush()
            return ChatMemberRecord.from_row(row)

    async def remove_chat_member(self, chat_id: int, username: str) -> bool:
        async with self._transaction() as session:
            result = await session.execute(
                delete(ChatParticipant).where(
                    ChatParticipant.chat_id == chat_id, ChatParticipant.username == username
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # Messages ------------------------------------------------------------------------

    async def add_message(
        self,
        chat_id: int,
        author: str | None,
        author_name: str,
        kind: str,
        *,
        text: str | None = None,
        data: Any = None,
        reply_to_id: int | None = None,
        forward_of_id: int | None = None,
        forwarded_from: str | None = None,
    ) -> MessageRecord:
        async with self._transaction() as session:
            await _chat_row(session, chat_id)
            if reply_to_id is not None:
                await _message_in(session, chat_id, reply_to_id)
            row = ChatMessage(
                chat_id=chat_id, author=author, author_name=author_name, kind=kind, text=text,
                data=None if data is None else json.dumps(data), reply_to_id=reply_to_id,
                forward_of_id=forward_of_id, forwarded_from=forwarded_from, pinned=False,
                deleted=False, created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return MessageRecord.from_row(row)

    async def get_message(self, message_id: int) -> MessageRecord | None:
        async with self._transaction() as session:
            row = await session.get(ChatMessage, message_id)
            return None if row is None else MessageRecord.from_row(row)

    async def list_messages(
        self, chat_id: int, username: str | None, *, after: int = 0, limit: int = 100
    ) -> list[MessageRecord]:
        """What `username` sees, oldest first: not deleted, not before the chat's first
        visible message, not cleared or hidden by them."""
        async with self._transaction() as session:
            chat = await _chat_row(session, chat_id)
            floor = max(after, (chat.first_visible_message_id or 1) - 1)
            query = select(ChatMessage).where(
                ChatMessage.chat_id == chat_id, ChatMessage.deleted.is_(False),
                ChatMessage.id > floor,
            )
            if username is not None:
                member = await session.get(ChatParticipant, (chat_id, username))
                if member is not None:
                    query = query.where(ChatMessage.id > member.cleared_through)
                hidden = select(ChatHiddenMessage.message_id).where(
                    ChatHiddenMessage.username == username)
                query = query.where(ChatMessage.id.not_in(hidden))
            rows = await session.scalars(query.order_by(ChatMessage.id).limit(limit))
            return [MessageRecord.from_row(r) for r in rows]

    async def latest_message_id(self, chat_id: int) -> int:
        async with self._transaction() as session:
            value = await session.scalar(
                select(func.max(ChatMessage.id)).where(ChatMessage.chat_id == chat_id))
            return int(value or 0)

    async def edit_message(self, message_id: int, text: str, data: Any = None) -> MessageRecord:
        async with self._transaction() as session:
            row = await _message_row(session, message_id)
            row.text, row.edited_at = text, utcnow()
            if data is not None:
                row.data = json.dumps(data)
            await session.flush()
            return MessageRecord.from_row(row)

    async def delete_message(self, message_id: int) -> MessageRecord:
        """Delete for everyone: the row stays (replies point at it), its content goes."""
        async with self._transaction() as session:
            row = await _message_row(session, message_id)
            row.deleted, row.text, row.data, row.pinned = True, None, None, False
            await session.execute(delete(ChatPollVote).where(ChatPollVote.message_id == row.id))
            await session.flush()
            return MessageRecord.from_row(row)

    async def hide_message(self, message_id: int, username: str) -> None:
        """Delete for one user only."""
        async with self._transaction() as session:
            await _message_row(session, message_id)
            if await session.get(ChatHiddenMessage, (message_id, username)) is None:
                session.add(ChatHiddenMessage(message_id=message_id, username=username))

    async def clear_chat(self, chat_id: int) -> int:
        """Clear the history for everyone; returns how many messages went."""
        async with self._transaction() as session:
            await _chat_row(session, chat_id)
            ids = select(ChatMessage.id).where(ChatMessage.chat_id == chat_id)
            await session.execute(delete(ChatPollVote).where(ChatPollVote.message_id.in_(ids)))
            result = await session.execute(
                update(ChatMessage)
                .where(ChatMessage.chat_id == chat_id, ChatMessage.deleted.is_(False))
                .values(deleted=True, text=None, data=None, pinned=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def set_pinned(self, message_id: int, pinned: bool) -> MessageRecord:
        async with self._transaction() as session:
            row = await _message_row(session, message_id)
            row.pinned = pinned
            await session.flush()
            return MessageRecord.from_row(row)

    # Polls ---------------------------------------------------------------------------

    async def vote(self, message_id: int, username: str, option: int) -> dict[int, int]:
        """Record (or change) the user's vote; returns the tally, option -> votes."""
        async with self._transaction() as session:
            row = await _message_row(session, message_id)
            options = json.loads(row.data or "{}").get("options", [])
            if row.kind != "poll" or row.deleted:
                raise Invalid("message", "not a poll")
            if not 0 <= option < len(options):
                raise Invalid("option", f"must be 0..{len(options) - 1}")
            vote = await session.get(ChatPollVote, (message_id, username))
            if vote is None:
                session.add(ChatPollVote(message_id=message_id, username=username, option=option))
            else:
                vote.option = option
            await session.flush()
            return await _tally(session, message_id)

    async def poll_tallies(self, message_ids: Sequence[int]) -> dict[int, dict[int, int]]:
        """message id -> option -> votes, for the polls among `message_ids`."""
        if not message_ids:
            return {}
        query = (
            select(ChatPollVote.message_id, ChatPollVote.option, func.count())
            .where(ChatPollVote.message_id.in_(message_ids))
            .group_by(ChatPollVote.message_id, ChatPollVote.option)
        )
        out: dict[int, dict[int, int]] = {}
        async with self._transaction() as session:
            for message_id, option, count in await session.execute(query):
                out.setdefault(message_id, {})[option] = count
        return out

    # Files ---------------------------------------------------------------------------

    async def add_chat_file(
        self, chat_id: int, name: str, content_type: str, size: int, storage_key: str,
        uploader: str | None,
    ) -> ChatFileRecord:
        async with self._transaction(unique=("storage_key",)) as session:
            await _chat_row(session, chat_id)
            row = ChatFile(chat_id=chat_id, name=name, content_type=content_type, size=size,
                           storage_key=storage_key, uploader=uploader, created_at=utcnow())
            session.add(row)
            await session.flush()
            return ChatFileRecord.from_row(row)

    async def get_chat_file(self, file_id: int) -> ChatFileRecord | None:
        async with self._transaction() as session:
            row = await session.get(ChatFile, file_id)
            return None if row is None else ChatFileRecord.from_row(row)

    async def delete_chat_file(self, file_id: int) -> str | None:
        """Forget the file; returns its storage key for the caller to remove."""
        async with self._transaction() as session:
            row = await session.get(ChatFile, file_id)
            if row is None:
                return None
            await session.delete(row)
            return row.storage_key


def _member(chat_id: int, username: str, role: ChatRole) -> ChatParticipant:
    return ChatParticipant(chat_id=chat_id, username=username, role=role, can_send=True,
                           blocked=False, left=False, cleared_through=0, joined_at=utcnow())


async def _need_user(session: AsyncSession, username: str, field: str) -> None:
    if await session.scalar(select(User.id).where(User.username == username)) is None:
        raise Invalid(field, f"no such user {username!r}")


async def _chat_row(session: AsyncSession, chat_id: int) -> Chat:
    row = await session.get(Chat, chat_id)
    if row is None:
        raise NotFound("chat", chat_id)
    return row


async def _message_row(session: AsyncSession, message_id: int) -> ChatMessage:
    row = await session.get(ChatMessage, message_id)
    if row is None:
        raise NotFound("message", message_id)
    return row


async def _message_in(session: AsyncSession, chat_id: int, message_id: int) -> ChatMessage:
    row = await session.get(ChatMessage, message_id)
    if row is None or row.chat_id != chat_id or row.deleted:
        raise NotFound("message", message_id)
    return row


async def _tally(session: AsyncSession, message_id: int) -> dict[int, int]:
    query = (
        select(ChatPollVote.option, func.count())
        .where(ChatPollVote.message_id == message_id)
        .group_by(ChatPollVote.option)
    )
    return {option: count for option, count in await session.execute(query)}


async def delete_user_chat_rows(session: AsyncSession, username: str) -> None:
    """A deleted user leaves every chat; their chats lose their owner (as conferences)."""
    for model in (ChatParticipant, ChatHiddenMessage, ChatPollVote):
        await session.execute(delete(model).where(model.username == username))
    await session.execute(update(Chat).where(Chat.owner == username).values(owner=None))


async def delete_conference_chat(session: AsyncSession, conference_id: int) -> None:
    """The conference's chat goes with the conference (its rows cascade likewise)."""
    chat_id = await session.scalar(select(Chat.id).where(Chat.conference_id == conference_id))
    if chat_id is not None:
        await _delete_chat_rows(session, chat_id)


async def _delete_chat_rows(session: AsyncSession, chat_id: int) -> None:
    message_ids = select(ChatMessage.id).where(ChatMessage.chat_id == chat_id)
    await session.execute(delete(ChatPollVote).where(ChatPollVote.message_id.in_(message_ids)))
    await session.execute(
        delete(ChatHiddenMessage).where(ChatHiddenMessage.message_id.in_(message_ids)))
    for model in (ChatMessage, ChatParticipant, ChatFile):
        await session.execute(delete(model).where(model.chat_id == chat_id))
    await session.execute(delete(Chat).where(Chat.id == chat_id))


__all__ = ["ChatRepository", "delete_conference_chat", "delete_user_chat_rows"]
