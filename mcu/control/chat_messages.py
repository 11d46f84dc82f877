"""Chat message operations (issue 17), shared by the API (`api_chats`) and the pages:
list, send (text, emoji, sticker, location, contact, poll, file; replies and forwards),
edit, delete for me / for everyone, clear history, pin, vote, read a file.

As in `chats`: find the chat (404), place the actor (`standing`), `authorize` the seed
004 action (403 naming the rule), count the message against the sender's flood limit
(429), read the body (422; oversized text or file 413 naming the limit; a file type
that is not accepted or not what its bytes are 415), act, and tell live pages.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from mcu.control.access import Control, ControlError, not_found
from mcu.control.chats import (
    Standing,
    changed,
    enter,
    load_chat,
    parse_id,
    require_chat,
    standing,
    validate,
)
from mcu.permissions import Actor, ChatAction, ChatRole
from mcu.store import ChatFileRecord, MessageRecord
from mcu.store.files import FileRefused

A = ChatAction
MessageType = Literal["text", "emoji", "sticker", "location", "contact", "poll", "file"]
# What sending each type is, in seed 004's rows ("Sending messages" for plain text).
ACTION_BY_TYPE: dict[str, ChatAction] = {
    "text": A.SEND,
    "emoji": A.SEND_EMOJI,
    "sticker": A.SEND_STICKERS,
    "location": A.SEND_LOCATION,
    "contact": A.SEND_CONTACTS,
    "poll": A.SEND_POLLS,
    "file": A.SEND_FILES,
}
EDITABLE = frozenset({"text", "emoji"})
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A chat message hook: (chat, message) after it is stored, e.g. to SIP endpoints.
MessageHook = Callable[[Standing, MessageRecord], Awaitable[None]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(_Body):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    label: Short | None = None


class Contact(_Body):
    name: Short
    address: Annotated[str, StringConstraints(max_length=255)] | None = None


class Poll(_Body):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=300)]
    options: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=100)]] = Field(
        min_length=2, max_length=10)


class FileIn(_Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255,
                                           pattern=r"^[^/\\\x00-\x1f]+$")]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    data: str  # base64


class MessageIn(_Body):
    type: MessageType = "text"
    text: str | None = None
    reply_to: int | None = None
    forward_of: int | None = None
    sticker: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")] | None = None
    location: Location | None = None
    contact: Contact | None = None
    poll: Poll | None = None
    file: FileIn | None = None


class MessageEdit(_Body):
    text: str


class PinBody(_Body):
    pinned: StrictBool = True


class VoteBody(_Body):
    option: int


def message_json(
    message: MessageRecord, tally: Mapping[int, int] | None = None
) -> dict[str, Any]:
    data = message.data
    if message.kind == "poll" and isinstance(data, dict):
        counts = tally or {}
        data = {**data, "votes": [counts.get(i, 0) for i in range(len(data["options"]))]}
    if message.kind == "file" and isinstance(data, dict):
        data = {**data, "url": f"/api/v1/chats/{message.chat_id}/files/{data['file_id']}"}
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "author": message.author,
        "author_name": message.author_name,
        "type": message.kind,
        "text": message.text,
        "data": data,
        "reply_to": message.reply_to_id,
        "forward_of": message.forward_of_id,
        "forwarded_from": message.forwarded_from,
        "pinned": message.pinned,
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "created_at": message.created_at.isoformat(),
    }


# Reading -----------------------------------------------------------------------------


async def list_messages(
    ctl: Control, actor: Actor, raw_id: str, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    where = await enter(ctl, actor, raw_id, A.READ)
    messages = await ctl.store.list_messages(
        where.chat.id, actor.username, after=max(after, 0), limit=min(max(limit, 1), 500))
    tallies = await ctl.store.poll_tallies([m.id for m in messages if m.kind == "poll"])
    return [message_json(m, tallies.get(m.id)) for m in messages]


async def read_file(
    ctl: Control, actor: Actor, raw_id: str, raw_file_id: str
) -> tuple[ChatFileRecord, bytes]:
    where = await enter(ctl, actor, raw_id, A.READ)
    record = await ctl.store.get_chat_file(parse_id(raw_file_id, "file"))
    if record is None or record.chat_id != where.chat.id:
        raise not_found("file")
    try:
        return record, ctl.chat_files.read(record.storage_key)
    except OSError:
        raise not_found("file") from None


# Sending -----------------------------------------------------------------------------


def _send_actions(data: Mapping[str, Any]) -> list[ChatAction]:
    """The seed 004 rows a new message is: a forward, a reply (of any type), or the
    type's own row."""
    if data.get("forward_of") is not None:
        return [A.FORWARD]
    kind = data.get("type", "text")
    action = ACTION_BY_TYPE.get(kind if isinstance(kind, str) else "text", A.SEND)
    if data.get("reply_to") is not None:
        return [A.REPLY] if action is A.SEND else [A.REPLY, action]
    return [action]


def _check_flood(ctl: Control, actor: Actor) -> None:
    wait = ctl.chat_rate.hit(actor.username)
    if wait:
        limit = f"{ctl.chat.rate_messages} messages per {ctl.chat.rate_window_s:g} s"
        raise ControlError(429, f"too many messages ({limit}); try again later",
                           retry_after=wait)


def _check_text(ctl: Control, text: str | None) -> None:
    if text is not None and len(text) > ctl.chat.max_text_chars:
        raise ControlError(413, f"text exceeds the {ctl.chat.max_text_chars}-character limit",
                           field="text")


async def send_message(
    ctl: Control, actor: Actor, raw_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    for action in _send_actions(data):
        require_chat(actor, action, where)
    _check_flood(ctl, actor)
    if bad_body is not None:
        raise bad_body
    body: MessageIn = validate(MessageIn, data)
    _check_text(ctl, body.text)
    if body.forward_of is not None:
        message = await _forward(ctl, actor, where, body.forward_of)
    else:
        message = await _store_new(ctl, actor, where, body)
    await deliver(ctl, where, message)
    return message_json(message)


async def _store_new(
    ctl: Control, actor: Actor, where: Standing, body: MessageIn
) -> MessageRecord:
    text, payload = _content(body)
    if body.type == "file":
        payload = await _save_file(ctl, actor, where.chat.id, body.file)
    return await ctl.store.add_message(
        where.chat.id, actor.username, actor.username, body.type, text=text, data=payload,
        reply_to_id=body.reply_to,
    )


def _content(body: MessageIn) -> tuple[str | None, Any]:
    """(text, data) for the type, or 422 naming what the type needs."""
    needs = {"sticker": body.sticker, "location": body.location, "contact": body.contact,
             "poll": body.poll, "file": body.file}
    if body.type in ("text", "emoji"):
        if not body.text or not body.text.strip():
            raise ControlError(422, f"a {body.type} message needs text", field="text")
        if body.type == "emoji" and (len(body.text) > 16 or any(
                c.isascii() and c.isalnum() for c in body.text)):
            raise ControlError(422, "an emoji message holds emoji only", field="text")
        return body.text, None
    value = needs[body.type]
    if value is None:
        raise ControlError(422, f"a {body.type} message needs {body.type}", field=body.type)
    if body.type == "sticker":
        return body.text, {"sticker": value}
    if body.type == "file":
        return body.text, None
    assert isinstance(value, BaseModel)
    return body.text, value.model_dump()


async def _save_file(
    ctl: Control, actor: Actor, chat_id: int, file: FileIn | None
) -> dict[str, Any]:
    assert file is not None
    try:
        raw = base64.b64decode(file.data, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(422, "file data must be base64", field="file.data") from None
    try:
        ctl.chat_files.check(file.content_type, raw)
    except FileRefused as refused:
        raise ControlError(refused.status, refused.detail, field="file") from None
    key = ctl.chat_files.save(raw)
    try:
        record = await ctl.store.add_chat_file(
            chat_id, file.name, file.content_type, len(raw), key, actor.username)
    except BaseException:
        ctl.chat_files.remove(key)
        raise
    return {"file_id": record.id, "name": record.name, "content_type": record.content_type,
            "size": record.size}


async def _forward(
    ctl: Control, actor: Actor, where: Standing, message_id: int
) -> MessageRecord:
    """Seed 004's "forwarding messages to/from chat": the actor may forward out of the
    source chat and into this one."""
    original = await ctl.store.get_message(message_id)
    if original is None or original.deleted:
        raise not_found("message")
    source = await standing(ctl, actor, await load_chat(ctl, original.chat_id))
    require_chat(actor, A.READ, source)
    require_chat(actor, A.FORWARD, source)
    data = original.data
    if original.kind == "file" and isinstance(data, dict):
        data = await _copy_file(ctl, actor, where.chat.id, int(data["file_id"]))
    return await ctl.store.add_message(
        where.chat.id, actor.username, actor.username, original.kind, text=original.text,
        data=data, forward_of_id=original.id, forwarded_from=original.author_name,
    )


async def _copy_file(ctl: Control, actor: Actor, chat_id: int, file_id: int) -> dict[str, Any]:
    record = await ctl.store.get_chat_file(file_id)
    if record is None:
        raise not_found("file")
    key = ctl.chat_files.save(ctl.chat_files.read(record.storage_key))
    copy = await ctl.store.add_chat_file(
        chat_id, record.name, record.content_type, record.size, key, actor.username)
    return {"file_id": copy.id, "name": copy.name, "content_type": copy.content_type,
            "size": copy.size}


async def deliver(ctl: Control, where: Standing, message: MessageRecord) -> None:
    """A new message: live pages are told; a conference chat's goes to its SIP
    endpoints too (`Control.chat_out`)."""
    changed(ctl, where.chat.id)
    if where.conference is not None and ctl.chat_out is not None:
        await ctl.chat_out(where, message)


async def post_from_endpoint(
    ctl: Control, conference_id: int, display_name: str, text: str
) -> MessageRecord | None:
    """A SIP endpoint's text (SIP MESSAGE) into the conference's chat, under its display
    name; it has no account, so no role: what it may do is what the MCU lets SIP do."""
    text = text[: ctl.chat.max_text_chars].strip()
    if not text:
        return None
    chat = await ctl.store.conference_chat(conference_id)
    message = await ctl.store.add_message(chat.id, None, display_name[:200] or "SIP",
                                          "text", text=text)
    changed(ctl, chat.id)
    return message


# Changing ----------------------------------------------------------------------------


async def _message_in(ctl: Control, where: Standing, raw_message_id: str) -> MessageRecord:
    message = await ctl.store.get_message(parse_id(raw_message_id, "message"))
    if message is None or message.chat_id != where.chat.id or message.deleted:
        raise not_found("message")
    return message


async def edit_message(
    ctl: Control, actor: Actor, raw_id: str, raw_message_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    where = await enter(ctl, actor, raw_id, A.EDIT_OWN)
    message = await _message_in(ctl, where, raw_message_id)
    if message.author != actor.username:
        raise ControlError(403, "forbidden", rule="chat: only one's own messages are edited")
    if bad_body is not None:
        raise bad_body
    body: MessageEdit = validate(MessageEdit, data)
    _check_text(ctl, body.text)
    if message.kind not in EDITABLE or message.forward_of_id is not None:
        raise ControlError(422, "only text written here can be edited", field="text")
    if not body.text.strip():
        raise ControlError(422, "text must not be empty", field="text")
    edited = await ctl.store.edit_message(message.id, body.text)
    changed(ctl, where.chat.id)
    return message_json(edited)


def _audience(raw: str | None) -> Literal["me", "everyone"]:
    if raw in (None, "me"):
        return "me"
    if raw == "everyone":
        return "everyone"
    raise ControlError(422, "must be me or everyone", field="for")


async def delete_message(
    ctl: Control, actor: Actor, raw_id: str, raw_message_id: str, audience: str | None
) -> None:
    """`?for=me` hides it from the actor; `?for=everyone` deletes it: own or others'."""
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    require_chat(actor, A.READ, where)
    who = _audience(audience)
    message = await _message_in(ctl, where, raw_message_id)
    own = message.author == actor.username
    action = {
        (True, "me"): A.DELETE_OWN_FOR_ME,
        (True, "everyone"): A.DELETE_OWN_FOR_EVERYONE,
        (False, "me"): A.DELETE_OTHERS_FOR_ME,
        (False, "everyone"): A.DELETE_OTHERS_FOR_EVERYONE,
    }[(own, who)]
    require_chat(actor, action, where)
    if who == "me":
        await ctl.store.hide_message(message.id, actor.username)
    else:
        await ctl.store.delete_message(message.id)
        if message.kind == "file" and isinstance(message.data, dict):
            key = await ctl.store.delete_chat_file(int(message.data["file_id"]))
            if key:
                ctl.chat_files.remove(key)
    changed(ctl, where.chat.id)


async def clear_history(ctl: Control, actor: Actor, raw_id: str, audience: str | None) -> None:
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    require_chat(actor, A.READ, where)
    who = _audience(audience)
    require_chat(actor, A.CLEAR_HISTORY_FOR_ME if who == "me" else
                 A.CLEAR_HISTORY_FOR_EVERYONE, where)
    if who == "everyone":
        await ctl.store.clear_chat(where.chat.id)
    else:
        latest = await ctl.store.latest_message_id(where.chat.id)
        if where.member is None:
            await ctl.store.add_chat_member(where.chat.id, actor.username, ChatRole.USER)
        await ctl.store.update_chat_member(where.chat.id, actor.username,
                                           cleared_through=latest)
    changed(ctl, where.chat.id)


async def pin_message(
    ctl: Control, actor: Actor, raw_id: str, raw_message_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    where = await enter(ctl, actor, raw_id, A.PIN)
    message = await _message_in(ctl, where, raw_message_id)
    if bad_body is not None:
        raise bad_body
    body: PinBody = validate(PinBody, data)
    pinned = await ctl.store.set_pinned(message.id, body.pinned)
    changed(ctl, where.chat.id)
    return message_json(pinned)


async def vote(
    ctl: Control, actor: Actor, raw_id: str, raw_message_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    """A vote in a poll: whoever reads the chat answers its polls."""
    where = await enter(ctl, actor, raw_id, A.READ)
    message = await _message_in(ctl, where, raw_message_id)
    if bad_body is not None:
        raise bad_body
    body: VoteBody = validate(VoteBody, data)
    tally = await ctl.store.vote(message.id, actor.username, body.option)
    changed(ctl, where.chat.id)
    return message_json(message, tally)


__all__ = [
    "MessageHook",
    "MessageIn",
    "clear_history",
    "delete_message",
    "deliver",
    "edit_message",
    "list_messages",
    "message_json",
    "pin_message",
    "post_from_endpoint",
    "read_file",
    "send_message",
    "vote",
]
