"""Seed 004's two chat matrices, exhaustively, THROUGH THE HTTP API (issue 17).

Every cell of "Role permissions in a regular chat" (28 actions x 6 roles) and "Role
permissions in the channel" (28 x 7) is its own test id. For each case a fresh chat is
made where a fresh actor holds the role, with a message of the actor's own, one of
another participant (the "victim", whose standing some actions change) and a fresh user
who is in no chat (the "newcomer", for adding). The action's request is sent with the
actor's bearer token, and:

- ✅ -> the route's success status;
- ❌ -> 403 whose JSON ``rule`` names the role and the action, and nothing changed: the
  chat, its participants and what the actor, the victim and everyone see are re-read and
  compared with before.

The expectations are the seed text itself, copied into ``tests.chat.seed004`` and parsed
there; nothing is imported from ``mcu.permissions`` to compute them.

Where each role comes from, as in the product:
- regular chat: owner / admin / user in a group chat (the creator is its owner, the others
  are added with their role); conf_owner owns the conference whose chat it is,
  conf_moderator is appointed the conference's moderator (seed 000); favorites_owner acts
  in their own Favorites;
- channel: owner / admin / user / writer in a channel. The seed's channel table also
  lists conf_owner, conf_moderator and favorites_owner, which no channel hands out (they
  follow from a conference or from Favorites): for those three columns the store gives the
  actor that role in a channel directly, so the table's cells are still checked through
  the API.
"""

from __future__ import annotations

import base64
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher

from mcu.control import create_app
from mcu.permissions import ChatKind, ChatRole, Privilege
from mcu.settings import ChatSettings
from mcu.store import Store, open_store, passwords
from tests.chat.seed004 import ACTIONS, EXPECTED
from tests.control.fakes import FakeLive

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN_PASSWORD = "admin-secret"
PASSWORD = "pw-for-chat-matrix"
BOSS = "chat_boss"  # owns the chats and conferences the actor does not own


@dataclass
class Case:
    chat_id: int
    actor: str
    victim: str
    newcomer: str
    own: int  # a message by the actor
    others: int  # a message by the victim (or, in Favorites, by someone else)


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None


TEXT_FILE = base64.b64encode(b"minutes").decode()

# Seed 004 action -> (request, success status).
REQUESTS: dict[str, tuple[Callable[[Case], Req], int]] = {
    "read_messages": (lambda c: Req("GET", f"/chats/{c.chat_id}/messages"), 200),
    "send_messages": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages", {"text": "hi"}),
                      201),
    "add_participants": (lambda c: Req("POST", f"/chats/{c.chat_id}/participants",
                                       {"username": c.newcomer, "role": "user"}), 201),
    "remove_participants": (lambda c: Req("DELETE",
                                          f"/chats/{c.chat_id}/participants/{c.victim}"), 204),
    "edit_own_messages": (lambda c: Req("PATCH", f"/chats/{c.chat_id}/messages/{c.own}",
                                        {"text": "edited"}), 200),
    "delete_own_messages_for_me": (lambda c: Req(
        "DELETE", f"/chats/{c.chat_id}/messages/{c.own}", params={"for": "me"}), 204),
    "delete_own_messages_for_everyone": (lambda c: Req(
        "DELETE", f"/chats/{c.chat_id}/messages/{c.own}", params={"for": "everyone"}), 204),
    "delete_others_messages_for_me": (lambda c: Req(
        "DELETE", f"/chats/{c.chat_id}/messages/{c.others}", params={"for": "me"}), 204),
    "delete_others_messages_for_everyone": (lambda c: Req(
        "DELETE", f"/chats/{c.chat_id}/messages/{c.others}", params={"for": "everyone"}), 204),
    "clear_history_for_me": (lambda c: Req("DELETE", f"/chats/{c.chat_id}/messages",
                                           params={"for": "me"}), 204),
    "clear_history_for_everyone": (lambda c: Req("DELETE", f"/chats/{c.chat_id}/messages",
                                                 params={"for": "everyone"}), 204),
    "reply_to_messages": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages",
                                        {"text": "re", "reply_to": c.others}), 201),
    "forward_messages": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages",
                                       {"forward_of": c.others}), 201),
    "send_files": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages", {
        "type": "file", "file": {"name": "minutes.txt", "content_type": "text/plain",
                                 "data": TEXT_FILE}}), 201),
    "send_location": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages", {
        "type": "location", "location": {"latitude": 55.75, "longitude": 37.62}}), 201),
    "send_contacts": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages", {
        "type": "contact", "contact": {"name": "Bob", "address": "sip:bob@192.0.2.5"}}), 201),
    "send_emoji": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages",
                                 {"type": "emoji", "text": "👍"}), 201),
    "send_stickers": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages",
                                    {"type": "sticker", "sticker": "thumbs_up"}), 201),
    "pin_messages": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages/{c.others}/pin"),
                     200),
    "change_title": (lambda c: Req("PATCH", f"/chats/{c.chat_id}", {"title": "Renamed"}), 200),
    "change_icon": (lambda c: Req("PATCH", f"/chats/{c.chat_id}", {"icon": "🚀"}), 200),
    "change_participant_roles": (lambda c: Req(
        "PATCH", f"/chats/{c.chat_id}/participants/{c.victim}", {"role": "admin"}), 200),
    "grant_rights": (lambda c: Req("PATCH", f"/chats/{c.chat_id}/participants/{c.victim}",
                                   {"can_send": True}), 200),
    "revoke_rights": (lambda c: Req("PATCH", f"/chats/{c.chat_id}/participants/{c.victim}",
                                    {"can_send": False}), 200),
    "block_participants": (lambda c: Req(
        "PATCH", f"/chats/{c.chat_id}/participants/{c.victim}", {"blocked": True}), 200),
    "change_chat_owner": (lambda c: Req("PATCH", f"/chats/{c.chat_id}", {"owner": c.victim}),
                          200),
    "set_first_visible_message": (lambda c: Req(
        "PATCH", f"/chats/{c.chat_id}", {"first_visible_message": c.others}), 200),
    "send_polls": (lambda c: Req("POST", f"/chats/{c.chat_id}/messages", {
        "type": "poll", "poll": {"question": "Lunch?", "options": ["yes", "no"]}}), 201),
}


@dataclass
class World:
    store: Store
    client: httpx.AsyncClient
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = await self.client.post("/api/v1/auth/token",
                                       json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.tokens[username]

    async def send(self, username: str, req: Req) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": await self.headers(username)}
        if req.params:
            kwargs["params"] = req.params
        if req.body is not None:
            kwargs["json"] = req.body
        return await self.client.request(req.method, "/api/v1" + req.path, **kwargs)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        shm = Path("/dev/shm")
        base = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("c")
        store = await open_store(f"sqlite+aiosqlite:///{base / 'c.db'}", ADMIN_PASSWORD)
        try:
            await store.create_user(BOSS, PASSWORD, Privilege.CONFERENCE_CREATION)
            # No flood limit here: the matrix sends many messages as fast as it can.
            settings = ChatSettings(files_dir=str(base / "files"), rate_messages=10**9)
            app = create_app(store, FakeLive(), chat=settings)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield World(store, c)
        finally:
            await store.close()
            shutil.rmtree(base, ignore_errors=True)


async def _users(w: World, n: int) -> tuple[str, str, str]:
    names = (f"actor{n}", f"victim{n}", f"newcomer{n}")
    for name in names:
        # conference_creation: an actor who owns a conference is its conf_owner.
        await w.store.create_user(name, PASSWORD, Privilege.CONFERENCE_CREATION)
    return names


async def _chat_for(w: World, table: str, role: str, actor: str, victim: str, n: int) -> int:
    """A fresh chat in which `actor` holds `role` (see the module docstring)."""
    s = w.store
    if table == "regular" and role in ("conf_owner", "conf_moderator"):
        owner = actor if role == "conf_owner" else BOSS
        conference = await s.create_conference(f"Chat matrix {n}", f"9{n}", owner=owner)
        if role == "conf_moderator":
            await s.add_role(conference.id, actor, "moderator")
        chat = await s.conference_chat(conference.id)
        await s.add_chat_member(chat.id, victim, ChatRole.USER)
        return chat.id
    if table == "regular" and role == "favorites_owner":
        return (await s.favorites_chat(actor)).id
    kind = ChatKind.GROUP if table == "regular" else ChatKind.CHANNEL
    if role == "owner":
        chat = await s.create_chat(kind, f"Chat {n}", actor)
    else:
        chat = await s.create_chat(kind, f"Chat {n}", BOSS)
        await s.add_chat_member(chat.id, actor, ChatRole(role))
    await s.add_chat_member(chat.id, victim, ChatRole.USER)
    return chat.id


async def fresh_case(w: World, table: str, role: str) -> Case:
    n = next(w.serial)
    actor, victim, newcomer = await _users(w, n)
    chat_id = await _chat_for(w, table, role, actor, victim, n)
    own = await w.store.add_message(chat_id, actor, actor, "text", text="mine")
    others = await w.store.add_message(chat_id, victim, victim, "text", text="theirs")
    return Case(chat_id, actor, victim, newcomer, own.id, others.id)


async def snapshot(w: World, c: Case) -> tuple[Any, ...]:
    s = w.store
    return (
        await s.get_chat(c.chat_id),
        await s.list_chat_members(c.chat_id),
        await s.list_messages(c.chat_id, None),
        await s.list_messages(c.chat_id, c.actor),
        await s.list_messages(c.chat_id, c.victim),
        await s.list_chats(c.newcomer),
    )


def _cases() -> list[Any]:
    return [
        pytest.param(table, role, action, allowed, id=f"{table}-{role}-{action}")
        for table, cells in EXPECTED.items()
        for (role, action), allowed in cells.items()
    ]


async def test_every_cell_has_a_request() -> None:
    assert set(REQUESTS) == set(ACTIONS)
    assert len(EXPECTED["regular"]) == 28 * 6 and len(EXPECTED["channel"]) == 28 * 7


@pytest.mark.parametrize(("table", "role", "action", "allowed"), _cases())
async def test_chat_cell(world: World, table: str, role: str, action: str, allowed: bool) -> None:
    w = world
    c = await fresh_case(w, table, role)
    build, ok = REQUESTS[action]
    case = f"{table} {role} {action}"
    before = None if allowed else await snapshot(w, c)
    r = await w.send(c.actor, build(c))
    if allowed:
        assert r.status_code == ok, f"{case}: expected {ok}, got {r.status_code} {r.text}"
        return
    assert r.status_code == 403, f"{case}: expected 403, got {r.status_code} {r.text}"
    rule = r.json().get("rule", "")
    assert role in rule and action in rule, f"{case}: rule {rule!r}"
    assert await snapshot(w, c) == before, f"{case}: a refused request changed something"
