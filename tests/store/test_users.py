"""Users: the undeletable root admin, argon2 passwords, equal-cost verification."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mcu.permissions import Privilege
from mcu.store import (
    ADMIN_PASSWORD_ENV,
    Conflict,
    Invalid,
    NotFound,
    Protected,
    Store,
    open_store,
    passwords,
)
from mcu.store.models import User
from tests.store.conftest import ADMIN_PASSWORD


async def test_admin_exists_and_cannot_be_deleted(store: Store) -> None:
    admin = await store.get_user("admin")
    assert admin is not None
    assert admin.privilege is Privilege.ADMINISTRATOR
    with pytest.raises(Protected):
        await store.delete_user("admin")
    assert await store.get_user("admin") is not None


async def test_admin_password_can_change_but_not_privilege(store: Store) -> None:
    await store.update_user("admin", password="new-secret")
    assert await store.verify_password("admin", "new-secret")
    assert not await store.verify_password("admin", ADMIN_PASSWORD)
    with pytest.raises(Protected):
        await store.update_user("admin", privilege=Privilege.CONFERENCE_DETAIL)


async def test_admin_password_from_environment(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "from-env")
    store = await open_store(store_url)
    try:
        assert store.generated_admin_password is None
        assert await store.verify_password("admin", "from-env")
    finally:
        await store.close()


async def test_admin_password_generated_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    store = await open_store(store_url)
    try:
        generated = store.generated_admin_password
        assert generated and len(generated) >= 16
        assert await store.verify_password("admin", generated)
    finally:
        await store.close()
    again = await open_store(store_url)
    try:
        assert again.generated_admin_password is None
        assert await again.verify_password("admin", generated)
    finally:
        await again.close()


async def test_passwords_are_argon2_hashes(store: Store) -> None:
    await store.create_user("alice", "correct horse", Privilege.CONFERENCE_CREATION)
    async with store.sessions() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await store.verify_password("alice", "correct horse")
    assert not await store.verify_password("alice", "wrong")
    user = await store.authenticate("alice", "correct horse")
    assert user is not None and user.username == "alice"


async def test_unknown_user_still_costs_one_verify(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create_user("alice", "pw", Privilege.CONFERENCE_CREATION)
    checked: list[str] = []
    real_verify = passwords.verify_hash

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_hash", counting_verify)
    assert await store.verify_password("nobody", "pw") is False
    assert checked == [passwords.dummy_hash()]
    assert await store.verify_password("alice", "wrong") is False
    assert len(checked) == 2 and checked[1] != passwords.dummy_hash()


async def test_user_crud(store: Store) -> None:
    created = await store.create_user("bob", "pw", "conference_detail", is_operator=True)
    assert created.privilege is Privilege.CONFERENCE_DETAIL and created.is_operator
    assert created.created_at.tzinfo is not None
    with pytest.raises(Conflict) as excinfo:
        await store.create_user("bob", "other", Privilege.CONFERENCE_LIST_ONLY)
    assert excinfo.value.field == "username"
    with pytest.raises(Invalid) as bad:
        await store.create_user("carol", "pw", "emperor")
    assert bad.value.field == "privilege"
    updated = await store.update_user("bob", privilege="conference_creation", is_operator=False)
    assert updated.privilege is Privilege.CONFERENCE_CREATION and not updated.is_operator
    assert [u.username for u in await store.list_users()] == ["admin", "bob"]
    await store.delete_user("bob")
    assert await store.get_user("bob") is None
    with pytest.raises(NotFound):
        await store.delete_user("bob")
    with pytest.raises(NotFound):
        await store.update_user("bob", password="x")
