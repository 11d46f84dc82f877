"""Recordings over the API (issue 15) against a fake live MCU: start, list, stop,
download with Range, delete; who may do which (the choice between seeds 000 and 002 in
the permission tables), and an audit row for every action."""

from __future__ import annotations

import httpx

from mcu.store import ConferenceRecord, Store
from tests.control.conftest import CREATOR, ROOM, token_for
from tests.control.fakes import FakeLive


def start(conference: ConferenceRecord) -> str:
    return f"/api/v1/conferences/{conference.id}/recordings"


async def test_start_list_stop_download_delete(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store
) -> None:
    h = await token_for(client, CREATOR)  # the owner
    r = await client.post(start(conference), headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "recording" and made["conference"] == "Board"
    assert made["numeric_id"] == ROOM and made["started_by"] == CREATOR
    assert made["size_bytes"] == 1000  # live: what the writer has written so far
    rid = made["id"]
    listed = (await client.get("/api/v1/recordings", headers=h)).json()
    assert [x["id"] for x in listed] == [rid]
    assert set(listed[0]) >= {"conference", "start", "duration_s", "size_bytes", "state"}

    r = await client.post(f"/api/v1/recordings/{rid}/stop", headers=h)
    assert r.status_code == 200, r.text
    assert rid not in live.recordings
    again = await client.post(f"/api/v1/recordings/{rid}/stop", headers=h)
    assert again.status_code == 409  # the fake never marks it stopped: still "recording"

    whole = await client.get(f"/api/v1/recordings/{rid}/file", headers=h)
    assert whole.status_code == 200 and len(whole.content) == 1000
    assert whole.headers["content-type"] == "video/mp4"
    part = await client.get(f"/api/v1/recordings/{rid}/file",
                            headers=h | {"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-range"] == "bytes 100-199/1000"
    beyond = await client.get(f"/api/v1/recordings/{rid}/file",
                              headers=h | {"Range": "bytes=5000-6000"})
    assert beyond.status_code == 416 and not beyond.content

    r = await client.delete(f"/api/v1/recordings/{rid}", headers=h)
    assert r.status_code == 204, r.text
    assert not live.recording_path(f"recording-{rid}.mp4").exists()
    assert await store.get_recording(rid) is None
    assert (await client.get(f"/api/v1/recordings/{rid}/file", headers=h)).status_code == 404
    audit = [(a.operation, a.outcome) for a in await store.list_audit(actor=CREATOR)]
    for row in [("control_recording", f"started recording:{rid}"),
                ("control_recording", "stopped"), ("download_recordings", "downloaded"),
                ("delete_recording", "deleted (Board, " )]:
        assert any(op == row[0] and outcome.startswith(row[1]) for op, outcome in audit), audit


async def test_a_conference_not_in_progress_is_not_recorded(
    client: httpx.AsyncClient, store: Store
) -> None:
    idle = await store.create_conference("Idle", "5555", owner=CREATOR)
    h = await token_for(client, CREATOR)
    r = await client.post(start(idle), headers=h)
    assert r.status_code == 409 and "not in progress" in r.text
    assert await store.list_recordings() == []


async def test_who_may_do_what(
    client: httpx.AsyncClient, conference: ConferenceRecord, store: Store
) -> None:
    await store.add_role(conference.id, "conference_detail", "moderator")
    owner = await token_for(client, CREATOR)
    moderator = await token_for(client, "conference_detail")
    security = await token_for(client, "security_administrator")
    full = await token_for(client, "conference_creation_full_control")
    lister = await token_for(client, "conference_list_only")
    admin = await token_for(client, "admin")

    # Seed 002: a moderator has "Recording control: start/stop recordings" ...
    r = await client.post(start(conference), headers=moderator)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert (await client.post(start(conference), headers=lister)).status_code == 403
    # ... seed 000: but not "the right to download video recordings".
    r = await client.get(f"/api/v1/recordings/{rid}/file", headers=moderator)
    assert r.status_code == 403 and "owner" in r.json()["rule"]
    # Full control over every conference starts and stops, but the file is the owner's.
    assert (await client.get(f"/api/v1/recordings/{rid}/file", headers=full)).status_code == 403
    # Seed 000: the security admin has "read-only access to the reports and recording".
    assert (await client.get(f"/api/v1/recordings/{rid}/file",
                             headers=security)).status_code == 200
    assert [x["id"] for x in (await client.get("/api/v1/recordings", headers=security)).json()
            ] == [rid]
    assert (await client.delete(f"/api/v1/recordings/{rid}", headers=security)).status_code == 403
    assert (await client.get("/api/v1/recordings", headers=lister)).json() == []
    assert (await client.delete(f"/api/v1/recordings/{rid}", headers=moderator)).status_code == 403
    assert (await client.get(f"/api/v1/recordings/{rid}/file", headers=owner)).status_code == 200
    assert (await client.delete(f"/api/v1/recordings/{rid}", headers=admin)).status_code == 204
    denied = [a for a in await store.list_audit(limit=200) if a.outcome.startswith("denied")]
    assert {a.actor for a in denied} >= {"conference_list_only", "security_administrator",
                                         "conference_detail"}


async def test_unknown_and_malformed_recording_ids_are_404(client: httpx.AsyncClient) -> None:
    h = await token_for(client, "admin")
    for rid in ("999", "abc", "-1", "99999999999999999999999"):
        assert (await client.get(f"/api/v1/recordings/{rid}/file", headers=h)).status_code == 404
        assert (await client.post(f"/api/v1/recordings/{rid}/stop", headers=h)).status_code == 404
    assert (await client.get("/api/v1/recordings")).status_code == 401
