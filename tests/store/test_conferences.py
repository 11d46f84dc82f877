"""Conferences, preconfigured participants and roles; owner reset on user deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mcu.permissions import Privilege
from mcu.store import (
    Conflict,
    EncryptionPolicy,
    Invalid,
    NotFound,
    ParticipantRecord,
    Repetition,
    RoleName,
    Store,
)


async def test_conference_round_trip(store: Store) -> None:
    await store.create_user("olga", "pw", Privilege.CONFERENCE_CREATION)
    start = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    created = await store.create_conference(
        "Weekly",
        "1234",
        pin="1111",
        guest_pin="2222",
        owner="olga",
        start_time=start,
        duration_seconds=3600,
        repetition="weekly",
        repeat_count=10,
        max_participants=12,
        encryption="required",
        streaming=True,
        layout="2x2",
    )
    fetched = await store.get_conference(created.id)
    assert fetched == created
    assert fetched.start_time == start and fetched.start_time.tzinfo is UTC
    assert fetched.repetition is Repetition.WEEKLY
    assert fetched.encryption is EncryptionPolicy.REQUIRED
    assert await store.get_conference_by_numeric_id("1234") == created
    assert await store.list_conferences(owner="olga") == [created]

    until = datetime(2027, 1, 1, tzinfo=UTC)
    changed = await store.update_conference(
        created.id, name="Renamed", repeat_count=None, repeat_until=until
    )
    assert changed.name == "Renamed" and changed.repeat_until == until

    await store.delete_conference(created.id)
    assert await store.get_conference(created.id) is None
    with pytest.raises(NotFound):
        await store.delete_conference(created.id)


async def test_defaults_of_a_bare_conference(store: Store) -> None:
    bare = await store.create_conference("Ad hoc", "99")
    assert bare.owner is None and bare.pin is None
    assert bare.encryption is EncryptionPolicy.OPTIONAL and bare.streaming is False


async def test_duplicate_numeric_id_is_a_conflict(store: Store) -> None:
    first = await store.create_conference("One", "555")
    with pytest.raises(Conflict) as excinfo:
        await store.create_conference("Two", "555")
    assert excinfo.value.field == "numeric_id"
    other = await store.create_conference("Three", "556")
    with pytest.raises(Conflict):
        await store.update_conference(other.id, name="Changed", numeric_id="555")
    # Nothing half-saved: the failed update left the name alone too.
    assert (await store.get_conference(other.id)).name == "Three"  # type: ignore[union-attr]
    assert [c.id for c in await store.list_conferences()] == [first.id, other.id]


async def test_invalid_fields_are_named(store: Store) -> None:
    cases = [
        ({"owner": "ghost"}, "owner"),
        ({"encryption": "maybe"}, "encryption"),
        ({"repetition": "hourly"}, "repetition"),
        (
            {"repetition": "daily", "repeat_count": 2, "repeat_until": datetime.now(UTC)},
            "repeat_until",
        ),
        ({"colour": "red"}, "colour"),
    ]
    for fields, field in cases:
        with pytest.raises(Invalid) as excinfo:
            await store.create_conference("Bad", "777", **fields)
        assert excinfo.value.field == field
    assert await store.list_conferences() == []


async def test_deleting_a_user_clears_ownership_roles_and_tokens(store: Store) -> None:
    await store.create_user("olga", "pw", Privilege.CONFERENCE_CREATION)
    await store.create_user("mike", "pw", Privilege.CONFERENCE_DETAIL)
    owned = await store.create_conference("Olga's", "100", owner="olga")
    kept = await store.create_conference("Mike's", "101", owner="mike")
    await store.add_role(kept.id, "olga", RoleName.MODERATOR)
    issued = await store.create_token("olga", timedelta(hours=1))

    await store.delete_user("olga")

    assert (await store.get_conference(owned.id)).owner is None  # type: ignore[union-attr]
    assert (await store.get_conference(kept.id)).owner == "mike"  # type: ignore[union-attr]
    assert await store.list_roles(kept.id) == []
    assert await store.lookup_token(issued.token) is None


async def test_roles(store: Store) -> None:
    await store.create_user("mod", "pw", Privilege.CONFERENCE_DETAIL)
    conf = await store.create_conference("Roles", "200")
    await store.add_role(conf.id, "mod", "moderator")
    await store.add_role(conf.id, "mod", RoleName.MODERATOR)  # idempotent
    await store.add_role(conf.id, "admin", RoleName.SPEAKER)
    roles = await store.list_roles(conf.id)
    assert [(r.username, r.role) for r in roles] == [
        ("admin", RoleName.SPEAKER),
        ("mod", RoleName.MODERATOR),
    ]
    assert [r.conference_id for r in await store.list_roles(username="mod")] == [conf.id]
    with pytest.raises(Invalid):
        await store.add_role(conf.id, "mod", "owner")
    with pytest.raises(Invalid):
        await store.add_role(conf.id, "ghost", "speaker")
    with pytest.raises(NotFound):
        await store.add_role(conf.id + 1, "mod", "speaker")
    assert await store.remove_role(conf.id, "mod", "moderator")
    assert not await store.remove_role(conf.id, "mod", "moderator")
    await store.delete_conference(conf.id)
    assert await store.list_roles() == []


async def test_preconfigured_participants(store: Store) -> None:
    conf = await store.create_conference("Dial", "300")
    wanted = [
        ParticipantRecord("sip:room@example.com", "Room"),
        ParticipantRecord("sip:bob@example.com"),
    ]
    await store.set_participants(conf.id, wanted)
    assert await store.list_participants(conf.id) == wanted
    with pytest.raises(Invalid):
        await store.set_participants(conf.id, [ParticipantRecord("sip:x@y"), ParticipantRecord("")])
    assert await store.list_participants(conf.id) == wanted  # the bad replace rolled back
    await store.set_participants(conf.id, [])
    assert await store.list_participants(conf.id) == []


async def test_save_conference_is_one_transaction(store: Store) -> None:
    await store.create_user("olga", "pw", Privilege.CONFERENCE_CREATION)
    dialled = [ParticipantRecord("sip:room@example.com", "Room"), ParticipantRecord("sip:b@x")]
    created, saved = await store.save_conference(
        None,
        {"name": "Weekly", "numeric_id": "400", "owner": "olga", "repetition": "weekly"},
        dialled,
    )
    assert saved == dialled and created.owner == "olga"
    assert created.repetition is Repetition.WEEKLY
    assert created.encryption is EncryptionPolicy.OPTIONAL and created.streaming is False
    assert await store.get_conference(created.id) == created
    assert await store.list_participants(created.id) == dialled

    # Without participants the list stays; with them it is replaced.
    changed, kept = await store.save_conference(created.id, {"name": "Renamed"})
    assert changed.name == "Renamed" and kept == dialled
    _, replaced = await store.save_conference(created.id, {}, [ParticipantRecord("sip:c@x")])
    assert replaced == [ParticipantRecord("sip:c@x")]

    # A failure anywhere rolls back the whole change: fields and participants alike.
    other, _ = await store.save_conference(None, {"name": "Other", "numeric_id": "401"})
    with pytest.raises(Conflict) as conflict:
        await store.save_conference(
            created.id, {"name": "Clash", "numeric_id": "401"}, [ParticipantRecord("sip:d@x")]
        )
    assert conflict.value.field == "numeric_id"
    with pytest.raises(Invalid) as invalid:
        await store.save_conference(created.id, {"name": "Ghost", "owner": "ghost"}, [])
    assert invalid.value.field == "owner"
    with pytest.raises(Invalid) as invalid:
        await store.save_conference(created.id, {"repetition": None, "repeat_count": 3})
    assert invalid.value.field == "repetition"
    assert await store.get_conference(created.id) == changed
    assert await store.list_participants(created.id) == [ParticipantRecord("sip:c@x")]
    assert await store.get_conference(other.id) == other

    for values, field in [
        ({"numeric_id": "402"}, "name"),
        ({"name": "No id"}, "numeric_id"),
        ({"name": "X", "numeric_id": "403", "colour": "red"}, "colour"),
        ({"name": "X", "numeric_id": "403", "encryption": "maybe"}, "encryption"),
    ]:
        with pytest.raises(Invalid) as invalid:
            await store.save_conference(None, values)
        assert invalid.value.field == field
    with pytest.raises(Invalid) as invalid:
        bare = {"name": "X", "numeric_id": "403"}
        await store.save_conference(None, bare, [ParticipantRecord("")])
    assert invalid.value.field == "participants.0.address"
    assert await store.get_conference_by_numeric_id("403") is None
    with pytest.raises(NotFound):
        await store.save_conference(other.id + 100, {"name": "Nobody"})
