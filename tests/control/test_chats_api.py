"""Chats through the API (issue 17): the contract's routes end to end, and bad input —
oversized text and files (413 naming the limit), unknown ids (404), a chat one has left
or is blocked from (403), file types (415), flooding (429), HTML kept as text."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from mcu.control import create_app
from mcu.settings import ChatSettings
from mcu.store import Store
from tests.control.conftest import CREATOR, token_for
from tests.control.fakes import FakeLive

A, B, C = "conference_creation_full_control", "conference_detail", "conference_list_only"


@pytest.fixture
async def chat_client(store: Store, live: FakeLive, tmp_path: Path) -> httpx.AsyncClient:
    settings = ChatSettings(files_dir=str(tmp_path / "files"), max_text_chars=50,
                            max_file_bytes=64, rate_messages=5, rate_window_s=60)
    app = create_app(store, live, chat=settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _group(c: httpx.AsyncClient, owner: dict[str, str], kind: str = "group") -> int:
    r = await c.post("/api/v1/chats", json={"title": "Team", "type": kind}, headers=owner)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "owner" and r.json()["type"] == kind
    return int(r.json()["id"])


async def test_group_chat_round_trip(chat_client: httpx.AsyncClient) -> None:
    c = chat_client
    a, b = await token_for(c, A), await token_for(c, B)
    chat = await _group(c, a)
    r = await c.post(f"/api/v1/chats/{chat}/participants", json={"username": B}, headers=a)
    assert r.status_code == 201, r.text
    r = await c.get(f"/api/v1/chats/{chat}/participants", headers=b)
    assert [(p["username"], p["role"]) for p in r.json()] == [(A, "owner"), (B, "user")]
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={"text": "<b>hi</b>"}, headers=b)
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    assert r.json()["text"] == "<b>hi</b>"  # stored as text; pages escape it
    r = await c.post(f"/api/v1/chats/{chat}/messages",
                     json={"text": "re", "reply_to": first}, headers=a)
    assert r.json()["reply_to"] == first
    r = await c.patch(f"/api/v1/chats/{chat}/messages/{first}", json={"text": "hello"},
                      headers=b)
    assert r.status_code == 200 and r.json()["edited_at"], r.text
    r = await c.patch(f"/api/v1/chats/{chat}/messages/{first}", json={"text": "x"}, headers=a)
    assert r.status_code == 403 and "own" in r.json()["rule"]
    r = await c.post(f"/api/v1/chats/{chat}/messages/{first}/pin", headers=a)
    assert r.status_code == 200 and r.json()["pinned"]
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "poll", "poll": {"question": "Lunch?", "options": ["yes", "no"]}}, headers=b)
    poll = r.json()["id"]
    r = await c.post(f"/api/v1/chats/{chat}/messages/{poll}/vote", json={"option": 1},
                     headers=a)
    assert r.json()["data"]["votes"] == [0, 1]
    r = await c.delete(f"/api/v1/chats/{chat}/messages/{first}?for=me", headers=a)
    assert r.status_code == 204
    seen_a = [m["id"] for m in (await c.get(f"/api/v1/chats/{chat}/messages", headers=a)).json()]
    seen_b = [m["id"] for m in (await c.get(f"/api/v1/chats/{chat}/messages", headers=b)).json()]
    assert first not in seen_a and first in seen_b
    r = await c.patch(f"/api/v1/chats/{chat}", json={"title": "New", "owner": B}, headers=a)
    assert r.status_code == 200 and r.json()["owner"] == B and r.json()["role"] == "admin"
    r = await c.delete(f"/api/v1/chats/{chat}", headers=a)
    assert r.status_code == 403 and r.json()["rule"] == "chat: only the owner deletes the chat"
    assert (await c.delete(f"/api/v1/chats/{chat}", headers=b)).status_code == 204
    assert (await c.get(f"/api/v1/chats/{chat}", headers=b)).status_code == 404


async def test_conference_chat_roles_come_from_the_conference(
    chat_client: httpx.AsyncClient, conference: object
) -> None:
    c = chat_client
    owner, admin = await token_for(c, CREATOR), await token_for(c, "admin")
    conf_id = conference.id  # type: ignore[attr-defined]
    r = await c.get(f"/api/v1/conferences/{conf_id}/chat", headers=owner)
    assert r.status_code == 200 and r.json()["role"] == "conf_owner", r.text
    chat = r.json()["chat_id"]
    r = await c.get(f"/api/v1/conferences/{conf_id}/chat", headers=admin)
    assert r.json()["role"] == "user" and r.json()["chat_id"] == chat
    listed = await token_for(c, C)  # may not view the conference: not in its chat
    r = await c.get(f"/api/v1/chats/{chat}/messages", headers=listed)
    assert r.status_code == 403 and r.json()["rule"] == "chat: not a participant"
    assert (await c.get("/api/v1/conferences/999/chat", headers=owner)).status_code == 404


async def test_bad_input(chat_client: httpx.AsyncClient) -> None:
    c = chat_client
    a, b = await token_for(c, A), await token_for(c, B)
    chat = await _group(c, a)
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={"text": "x" * 51}, headers=a)
    assert r.status_code == 413 and "50-character limit" in r.json()["detail"]
    for path in (f"/api/v1/chats/{chat}/messages/999", "/api/v1/chats/999/messages/1",
                 f"/api/v1/chats/{chat}/messages/abc"):
        assert (await c.patch(path, json={"text": "y"}, headers=a)).status_code == 404
    big = base64.b64encode(b"x" * 65).decode()
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "file", "file": {"name": "a.txt", "content_type": "text/plain", "data": big}},
        headers=a)
    assert r.status_code == 413 and "64-byte limit" in r.json()["detail"]
    fake_png = base64.b64encode(b"<script>").decode()
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "file", "file": {"name": "a.png", "content_type": "image/png",
                                 "data": fake_png}}, headers=a)
    assert r.status_code == 415
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "file", "file": {"name": "a.html", "content_type": "text/html",
                                 "data": fake_png}}, headers=a)
    assert r.status_code == 415 and "text/plain" in r.json()["detail"]
    ok = base64.b64encode(b"hello").decode()
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "file", "file": {"name": "a.txt", "content_type": "text/plain", "data": ok}},
        headers=a)
    assert r.status_code == 201, r.text
    got = await c.get(r.json()["data"]["url"], headers=a)
    assert got.content == b"hello" and got.headers["content-disposition"].startswith("attach")
    # Left or blocked: nothing more.
    await c.post(f"/api/v1/chats/{chat}/participants", json={"username": B}, headers=a)
    assert (await c.delete(f"/api/v1/chats/{chat}/participants/{B}", headers=b)).status_code \
        == 204
    r = await c.get(f"/api/v1/chats/{chat}/messages", headers=b)
    assert r.status_code == 403 and r.json()["rule"] == "chat: left the chat"
    await c.post(f"/api/v1/chats/{chat}/participants", json={"username": B}, headers=a)
    r = await c.patch(f"/api/v1/chats/{chat}/participants/{B}", json={"blocked": True},
                      headers=a)
    assert r.status_code == 200, r.text
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={"text": "hi"}, headers=b)
    assert r.status_code == 403 and r.json()["rule"] == "chat: blocked in this chat"


async def test_flooding_is_rate_limited(chat_client: httpx.AsyncClient) -> None:
    c = chat_client
    a = await token_for(c, A)
    chat = await _group(c, a)
    codes = [(await c.post(f"/api/v1/chats/{chat}/messages", json={"text": str(i)},
                           headers=a)).status_code for i in range(6)]
    assert codes == [201] * 5 + [429]
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={"text": "again"}, headers=a)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "5 messages per 60 s" in r.json()["detail"]


async def test_favorites_listed_first(chat_client: httpx.AsyncClient) -> None:
    c = chat_client
    a = await token_for(c, A)
    chat = await _group(c, a, "channel")
    r = await c.get("/api/v1/chats", headers=a)
    assert [(x["type"], x["role"]) for x in r.json()] == [
        ("favorites", "favorites_owner"), ("channel", "owner")]
    assert r.json()[1]["id"] == chat


async def test_openapi_describes_the_chat_routes(chat_client: httpx.AsyncClient) -> None:
    doc = (await chat_client.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/chats", "/api/v1/chats/{chat_id}",
                 "/api/v1/chats/{chat_id}/participants",
                 "/api/v1/chats/{chat_id}/participants/{username}",
                 "/api/v1/chats/{chat_id}/messages",
                 "/api/v1/chats/{chat_id}/messages/{message_id}",
                 "/api/v1/chats/{chat_id}/messages/{message_id}/pin",
                 "/api/v1/conferences/{conference_id}/chat"):
        assert path in doc["paths"], path
    body = doc["paths"]["/api/v1/chats/{chat_id}/messages"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert "$ref" not in str(schema) and "latitude" in str(schema)


async def test_chat_pages(chat_client: httpx.AsyncClient) -> None:
    from tests.control.test_admin_pages import login

    c = chat_client
    a = await token_for(c, A)
    chat = await _group(c, a)
    await login(c, A)
    page = await c.get("/chats")
    assert page.status_code == 200 and 'data-type="favorites"' in page.text
    assert f'href="/chats/{chat}"' in page.text
    page = await c.get(f"/chats/{chat}")
    assert page.status_code == 200 and f'data-chat-id="{chat}"' in page.text
    await login(c, B)  # not in the chat
    page = await c.get(f"/chats/{chat}")
    assert page.status_code == 403 and "chat: not a participant" in page.text
    assert (await c.get(f"/chats/{chat}/events")).status_code == 403


async def test_deleting_a_conference_removes_its_chat_files(
    chat_client: httpx.AsyncClient, conference: object, tmp_path: Path
) -> None:
    c = chat_client
    owner = await token_for(c, CREATOR)
    conf_id = conference.id  # type: ignore[attr-defined]
    chat = (await c.get(f"/api/v1/conferences/{conf_id}/chat", headers=owner)).json()["id"]
    data = base64.b64encode(b"notes").decode()
    r = await c.post(f"/api/v1/chats/{chat}/messages", json={
        "type": "file", "file": {"name": "n.txt", "content_type": "text/plain", "data": data}},
        headers=owner)
    assert r.status_code == 201, r.text
    assert len(list((tmp_path / "files").iterdir())) == 1
    assert (await c.delete(f"/api/v1/conferences/{conf_id}", headers=owner)).status_code == 204
    assert list((tmp_path / "files").iterdir()) == []
    assert (await c.get(f"/api/v1/chats/{chat}", headers=owner)).status_code == 404
