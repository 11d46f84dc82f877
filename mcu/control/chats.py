"""Chat operations (issue 17), shared by the API (`api_chats`) and the pages: chats and
their participants. Messages are in `chat_messages`.

Every operation finds the chat (404), works out where the actor stands in it
(`standing`: their seed 004 role, left, blocked, right to send), asks `authorize` for the
action (403 naming the rule: `require_chat`), then reads the body (422) and acts. In a
conference's chat the roles `conf_owner` and `conf_moderator` come from the conference
(its owner; its moderators and the operator group), anyone else who may view the
conference is a `user` unless given another role there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints, ValidationError

from gateway.log import log_event
from mcu.control.access import (
    Control,
    ControlError,
    Principal,
    audit,
    conference_target,
    logger,
    not_found,
    validation_error,
)
from mcu.permissions import (
    Actor,
    ChatAction,
    ChatKind,
    ChatRole,
    ChatTarget,
    ConferenceRole,
    ConferenceTarget,
    Decision,
    Operation,
    authorize,
    roles_of,
)
from mcu.store import ChatMemberRecord, ChatRecord, ConferenceRecord

A = ChatAction
_MAX_ID = 2**63 - 1
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Icon = Annotated[str, StringConstraints(max_length=200)]
# Roles a participant may be given through the API, by chat kind; the others follow from
# something else (the owner: PATCH owner; conf_*: the conference; favorites_owner: whose).
ASSIGNABLE: dict[ChatKind, frozenset[ChatRole]] = {
    ChatKind.GROUP: frozenset({ChatRole.ADMIN, ChatRole.USER}),
    ChatKind.CHANNEL: frozenset({ChatRole.ADMIN, ChatRole.USER, ChatRole.WRITER}),
    ChatKind.CONFERENCE: frozenset({ChatRole.ADMIN, ChatRole.USER}),
    ChatKind.FAVORITES: frozenset(),
}
# Whose standing nobody changes: it follows the chat's owner or the conference.
PINNED_ROLES = frozenset({ChatRole.OWNER, ChatRole.CONF_OWNER, ChatRole.FAVORITES_OWNER})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatCreate(_Body):
    title: Title
    type: Literal["group", "channel"]


class ChatUpdate(_Body):
    title: Title | None = None
    icon: Icon | None = None
    owner: str | None = None
    first_visible_message: int | None = None


class ParticipantAdd(_Body):
    username: str
    role: ChatRole = ChatRole.USER


class ParticipantUpdate(_Body):
    role: ChatRole | None = None
    can_send: StrictBool | None = None
    blocked: StrictBool | None = None


@dataclass(frozen=True)
class Standing:
    """The chat and where the actor stands in it."""

    chat: ChatRecord
    target: ChatTarget
    member: ChatMemberRecord | None
    conference: ConferenceRecord | None = None
    conference_roles: ConferenceTarget | None = None

    @property
    def role(self) -> ChatRole | None:
        return self.target.role


def validate(model: type[_Body], data: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_id(raw: str | int, what: str) -> int:
    """A path id; anything but a positive integer names nothing (404, not 422)."""
    text = str(raw)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        raise not_found(what)
    return int(text)


def changed(ctl: Control, chat_id: int) -> None:
    """Tell live pages the chat changed (`ChatHub`)."""
    ctl.chat_hub.changed(chat_id)


# Where the actor stands --------------------------------------------------------------


async def load_chat(ctl: Control, raw_id: str | int) -> ChatRecord:
    chat = await ctl.store.get_chat(parse_id(raw_id, "chat"))
    if chat is None:
        raise not_found("chat")
    return chat


async def standing(ctl: Control, actor: Actor, chat: ChatRecord) -> Standing:
    member = await ctl.store.get_chat_member(chat.id, actor.username)
    role = member.role if member is not None else None
    conference = conf_target = None
    if chat.kind is ChatKind.CONFERENCE and chat.conference_id is not None:
        conference = await ctl.store.get_conference(chat.conference_id)
        if conference is None:
            raise not_found("chat")
        conf_target = conference_target(
            conference, await ctl.store.list_roles(conference_id=conference.id))
        role = conference_chat_role(actor, conf_target, role)
    target = ChatTarget(
        chat.kind,
        role,
        left=bool(member and member.left),
        blocked=bool(member and member.blocked) and role is not ChatRole.CONF_OWNER,
        can_send=member.can_send if member is not None else True,
    )
    return Standing(chat, target, member, conference, conf_target)


def conference_chat_role(
    actor: Actor, conference: ConferenceTarget, stored: ChatRole | None
) -> ChatRole | None:
    """Seed 004: conf_owner is "the owner of the conference", conf_moderator "the
    conference moderator (operator)"; a role given in the chat counts for the others,
    and whoever may view the conference takes part as a user."""
    roles = roles_of(actor, conference)
    if ConferenceRole.OWNER in roles:
        return ChatRole.CONF_OWNER
    if roles & {ConferenceRole.MODERATOR, ConferenceRole.OPERATOR}:
        return ChatRole.CONF_MODERATOR
    if stored is not None:
        return stored
    if authorize(actor, Operation.VIEW_CONFERENCE, conference).allowed:
        return ChatRole.USER
    return None


def require_chat(actor: Actor, action: ChatAction, where: Standing) -> Decision:
    """Ask `authorize`; a refusal is a 403 naming the rule (logged, never audited: a
    refused message is not worth a row)."""
    decision = authorize(actor, action, where.target)
    if not decision.allowed:
        log_event(logger, "control.denied", actor=actor.username, operation=str(action),
                  target=f"chat:{where.chat.id}", rule=decision.rule)
        raise ControlError(403, "forbidden", rule=decision.rule)
    return decision


async def enter(
    ctl: Control, actor: Actor, raw_id: str | int, action: ChatAction
) -> Standing:
    """Find the chat, place the actor in it, and require `action`."""
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    require_chat(actor, action, where)
    return where


def chat_json(chat: ChatRecord, role: ChatRole | None = None) -> dict[str, Any]:
    return {
        "id": chat.id,
        "type": chat.kind.value,
        "title": chat.title,
        "icon": chat.icon,
        "owner": chat.owner,
        "conference_id": chat.conference_id,
        "first_visible_message": chat.first_visible_message_id,
        "role": None if role is None else role.value,
        "created_at": chat.created_at.isoformat(),
    }


def chat_ref(chat: ChatRecord) -> str:
    return f"chat:{chat.id}"


# Chats -------------------------------------------------------------------------------


async def create_chat(ctl: Control, actor: Actor, data: Mapping[str, Any]) -> dict[str, Any]:
    """A group chat or channel; anyone signed in may make one, and owns it."""
    body: ChatCreate = validate(ChatCreate, data)
    chat = await ctl.store.create_chat(ChatKind(body.type), body.title, actor.username)
    await audit(ctl, actor.username, "create_chat", chat_ref(chat), f"created: {chat.kind}")
    return chat_json(chat, ChatRole.OWNER)


async def list_chats(ctl: Control, actor: Actor) -> list[dict[str, Any]]:
    """The actor's chats, their Favorites first (made on first use)."""
    favorites = await ctl.store.favorites_chat(actor.username)
    chats = [favorites] + [c for c in await ctl.store.list_chats(actor.username)
                           if c.id != favorites.id]
    out = []
    for chat in chats:
        member = await ctl.store.get_chat_member(chat.id, actor.username)
        out.append(chat_json(chat, member.role if member else None))
    return out


async def get_chat(ctl: Control, actor: Actor, raw_id: str) -> dict[str, Any]:
    where = await enter(ctl, actor, raw_id, A.READ)
    return chat_json(where.chat, where.role)


async def conference_chat(ctl: Control, actor: Actor, conference_id: int) -> dict[str, Any]:
    """The conference's chat (made on first use), for whoever takes part in it."""
    if await ctl.store.get_conference(conference_id) is None:
        raise not_found("conference")
    chat = await ctl.store.conference_chat(conference_id)
    where = await standing(ctl, actor, chat)
    require_chat(actor, A.READ, where)
    return {"chat_id": chat.id, **chat_json(chat, where.role)}


def _update_actions(data: Mapping[str, Any]) -> list[ChatAction]:
    by_field = {"title": A.CHANGE_TITLE, "icon": A.CHANGE_ICON, "owner": A.CHANGE_OWNER,
                "first_visible_message": A.SET_FIRST_VISIBLE}
    actions = [action for name, action in by_field.items() if name in data]
    return actions or [A.CHANGE_TITLE]


async def update_chat(
    ctl: Control, actor: Actor, raw_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    """PATCH `title`, `icon`, `owner`, `first_visible_message`: each field its action."""
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    for action in _update_actions(data):
        require_chat(actor, action, where)
    if bad_body is not None:
        raise bad_body
    body: ChatUpdate = validate(ChatUpdate, data)
    given = body.model_fields_set
    for name in ("title", "owner"):
        if name in given and getattr(body, name) is None:
            raise ControlError(422, "must not be null", field=name)
    chat = where.chat
    changes = {k: getattr(body, k) for k in ("title", "icon") if k in given}
    if "first_visible_message" in given:
        changes["first_visible_message_id"] = body.first_visible_message
    if changes:
        chat = await ctl.store.update_chat(chat.id, **changes)
    if "owner" in given:
        chat = await _change_owner(ctl, actor, where, body.owner or "")
    await audit(ctl, actor.username, "update_chat", chat_ref(chat),
                "updated: " + ",".join(sorted(given)) if given else "unchanged")
    changed(ctl, chat.id)
    mine = await standing(ctl, actor, chat)
    return chat_json(chat, mine.role)


async def _change_owner(ctl: Control, actor: Actor, where: Standing, owner: str) -> ChatRecord:
    if where.chat.kind not in (ChatKind.GROUP, ChatKind.CHANNEL):
        raise ControlError(422, f"a {where.chat.kind} chat's owner is not changed",
                           field="owner")
    if await ctl.store.get_user(owner) is None:
        raise ControlError(422, f"no such user {owner!r}", field="owner")
    return await ctl.store.change_chat_owner(where.chat.id, owner)


async def delete_chat(ctl: Control, actor: Actor, raw_id: str) -> None:
    where = await enter(ctl, actor, raw_id, A.DELETE_CHAT)
    for key in await ctl.store.delete_chat(where.chat.id):
        ctl.chat_files.remove(key)
    await audit(ctl, actor.username, "delete_chat", chat_ref(where.chat), "deleted")
    changed(ctl, where.chat.id)


# Participants ------------------------------------------------------------------------


async def list_participants(ctl: Control, actor: Actor, raw_id: str) -> list[dict[str, Any]]:
    """The seed's getChatParticipants: username and role (and rights, blocked)."""
    where = await enter(ctl, actor, raw_id, A.READ)
    members = {m.username: m for m in await ctl.store.list_chat_members(where.chat.id)}
    out: dict[str, dict[str, Any]] = {}
    if where.conference_roles is not None:
        for username in _conference_people(where):
            out[username] = {"username": username}
    for username in members:
        out.setdefault(username, {"username": username})
    rows = []
    for username, row in out.items():
        member = members.get(username)
        if member is not None and member.left:
            continue
        role = await _role_of(ctl, where, username, member)
        if role is None:
            continue
        rows.append({**row, "role": role.value,
                     "can_send": member.can_send if member else True,
                     "blocked": bool(member and member.blocked)})
    return rows


def _conference_people(where: Standing) -> list[str]:
    conf = where.conference_roles
    assert conf is not None
    people = [conf.owner] if conf.owner else []
    return people + sorted(conf.moderators)


async def _role_of(
    ctl: Control, where: Standing, username: str, member: ChatMemberRecord | None
) -> ChatRole | None:
    """`username`'s role in the chat (in a conference chat: as `standing` works it out)."""
    if where.conference_roles is None:
        return member.role if member else None
    user = await ctl.store.get_user(username)
    if user is None:
        return None
    other = Actor(user.username, user.privilege, user.is_operator)
    return conference_chat_role(other, where.conference_roles, member.role if member else None)


async def add_participant(
    ctl: Control, actor: Actor, raw_id: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    where = await enter(ctl, actor, raw_id, A.ADD_PARTICIPANTS)
    if bad_body is not None:
        raise bad_body
    body: ParticipantAdd = validate(ParticipantAdd, data)
    _check_assignable(where.chat.kind, body.role)
    if await ctl.store.get_user(body.username) is None:
        raise ControlError(422, f"no such user {body.username!r}", field="username")
    member = await ctl.store.add_chat_member(where.chat.id, body.username, body.role)
    await audit(ctl, actor.username, "add_chat_participant", chat_ref(where.chat),
                f"added {body.username} as {body.role}")
    changed(ctl, where.chat.id)
    return {"username": member.username, "role": member.role.value,
            "can_send": member.can_send, "blocked": member.blocked}


def _check_assignable(kind: ChatKind, role: ChatRole) -> None:
    if role not in ASSIGNABLE[kind]:
        allowed = ", ".join(sorted(r.value for r in ASSIGNABLE[kind])) or "none"
        raise ControlError(422, f"role {role} cannot be given in a {kind} chat "
                           f"(roles given here: {allowed})", field="role")


def _participant_actions(data: Mapping[str, Any]) -> list[ChatAction]:
    actions = []
    if "role" in data:
        actions.append(A.CHANGE_ROLES)
    if "can_send" in data:
        actions.append(A.GRANT_RIGHTS if data["can_send"] is True else A.REVOKE_RIGHTS)
    if "blocked" in data:
        actions.append(A.BLOCK_PARTICIPANTS)
    return actions or [A.CHANGE_ROLES]


async def _target_member(
    ctl: Control, where: Standing, username: str
) -> tuple[ChatMemberRecord, ChatRole]:
    """The participant acted upon (in a conference chat, given a row on first need)."""
    member = await ctl.store.get_chat_member(where.chat.id, username)
    role = await _role_of(ctl, where, username, member)
    if role is None or (member is not None and member.left):
        raise not_found("participant")
    if member is None:
        member = await ctl.store.add_chat_member(where.chat.id, username, ChatRole.USER)
    return member, role


async def update_participant(
    ctl: Control, actor: Actor, raw_id: str, username: str, data: Mapping[str, Any],
    bad_body: ControlError | None = None,
) -> dict[str, Any]:
    """PATCH `role` (change roles), `can_send` (grant / revoke the right to send),
    `blocked` (block / unblock)."""
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    for action in _participant_actions(data):
        require_chat(actor, action, where)
    if bad_body is not None:
        raise bad_body
    body: ParticipantUpdate = validate(ParticipantUpdate, data)
    member, role = await _target_member(ctl, where, username)
    if role in PINNED_ROLES or role is ChatRole.CONF_MODERATOR:
        raise ControlError(403, f"the {role}'s standing follows the chat's owner or the "
                           "conference", rule=f"chat: {role} cannot be changed")
    changes = body.model_dump(include=body.model_fields_set)
    for name, value in changes.items():
        if value is None:
            raise ControlError(422, "must not be null", field=name)
    if "role" in changes:
        _check_assignable(where.chat.kind, body.role)  # type: ignore[arg-type]
    member = await ctl.store.update_chat_member(where.chat.id, username, **changes)
    await audit(ctl, actor.username, "update_chat_participant", chat_ref(where.chat),
                f"{username}: " + ",".join(f"{k}={v}" for k, v in sorted(changes.items())))
    changed(ctl, where.chat.id)
    shown = await _role_of(ctl, where, username, member)
    return {"username": username, "role": (shown or member.role).value,
            "can_send": member.can_send, "blocked": member.blocked}


async def remove_participant(ctl: Control, actor: Actor, raw_id: str, username: str) -> None:
    """Remove a participant (REMOVE_PARTICIPANTS), or leave when it is oneself."""
    where = await standing(ctl, actor, await load_chat(ctl, raw_id))
    leaving = username == actor.username
    require_chat(actor, A.READ if leaving else A.REMOVE_PARTICIPANTS, where)
    member, role = await _target_member(ctl, where, username)
    if role in PINNED_ROLES or (role is ChatRole.CONF_MODERATOR and not leaving):
        raise ControlError(403, f"the {role} cannot be removed" if not leaving else
                           f"the {role} cannot leave", rule=f"chat: {role} stays")
    await ctl.store.update_chat_member(where.chat.id, username, left=True)
    outcome = "left" if leaving else f"removed {username}"
    await audit(ctl, actor.username, "remove_chat_participant", chat_ref(where.chat), outcome)
    changed(ctl, where.chat.id)


# Pages ---------------------------------------------------------------------------------


def chat_panel(ctl: Control, principal: Principal, chat: dict[str, Any]) -> dict[str, Any]:
    """What the chat panel template needs (`_chat_panel.html`)."""
    return {
        "id": chat["id"],
        "title": chat["title"],
        "type": chat["type"],
        "role": chat["role"],
        "me": principal.actor.username,
        "csrf": principal.csrf,
        "max_text": ctl.chat.max_text_chars,
    }


async def conference_chat_panel(
    ctl: Control, principal: Principal, conference_id: int | None
) -> dict[str, Any] | None:
    """The conference page's chat panel, when the actor takes part in its chat."""
    if conference_id is None:
        return None
    try:
        chat = await conference_chat(ctl, principal.actor, conference_id)
    except ControlError:
        return None
    return chat_panel(ctl, principal, chat)


__all__ = [
    "ChatCreate",
    "ChatUpdate",
    "ParticipantAdd",
    "ParticipantUpdate",
    "Standing",
    "add_participant",
    "chat_json",
    "chat_panel",
    "conference_chat_panel",
    "conference_chat",
    "create_chat",
    "delete_chat",
    "enter",
    "get_chat",
    "list_chats",
    "list_participants",
    "remove_participant",
    "require_chat",
    "standing",
    "update_chat",
    "update_participant",
]
