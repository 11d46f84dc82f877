"""Control fixtures: a real SQLite store with one user per privilege, a fake live MCU."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from mcu.control import create_app
from mcu.permissions import Privilege
from mcu.store import ConferenceRecord, Store, open_store, passwords
from tests.control.fakes import FakeLive

ADMIN_PASSWORD = "admin-secret"
PASSWORD = "pw-for-tests"
# One user per privilege, named after it, all with PASSWORD.
USERS = {p.value: p for p in Privilege if p is not Privilege.ADMINISTRATOR}
CREATOR = "conference_creation"
ROOM = "4321"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, at its lowest cost: these tests create and log in many users."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", ADMIN_PASSWORD)
    try:
        for username, privilege in USERS.items():
            await opened.create_user(username, PASSWORD, privilege)
        await opened.create_user("other_creator", PASSWORD, Privilege.CONFERENCE_CREATION)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def conference(store: Store) -> ConferenceRecord:
    """Owned by the conference_creation user, with a PIN, and running with a lobby."""
    return await store.create_conference("Board", ROOM, pin="1234", owner=CREATOR)


@pytest.fixture
def live() -> FakeLive:
    fake = FakeLive()
    fake.add(ROOM, "p1", "Alice", "connected", "chair")
    fake.add(ROOM, "p2", "Bob", "lobby")
    return fake


@pytest.fixture
async def client(store: Store, live: FakeLive) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, live)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def token_for(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    password = ADMIN_PASSWORD if username == "admin" else PASSWORD
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
