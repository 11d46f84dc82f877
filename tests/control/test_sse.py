"""The conference page's event stream over a real socket (WebServer on port 0: httpx's
ASGITransport collects a whole response before returning it, so it cannot stream)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from mcu.control import WebServer, create_app, events
from mcu.live import ParticipantView
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import CREATOR
from tests.control.fakes import FakeLive


@pytest.fixture
async def base_url(store: Store, live: FakeLive) -> AsyncIterator[str]:
    server = WebServer(graceful_shutdown_s=1.0)
    await server.start(create_app(store, live), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def session(store: Store, username: str) -> dict[str, str]:
    issued = await store.create_token(username, timedelta(hours=1))
    return {"mcu_session": issued.token}


class Stream:
    """Reads one event stream: `next_event()` returns (event, data) or comments."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next_block(self, timeout: float = 3.0) -> list[str]:
        block: list[str] = []

        async def read() -> list[str]:
            async for line in self.lines:
                if line == "":
                    if block:
                        return block
                    continue
                block.append(line)
            return block

        return await asyncio.wait_for(read(), timeout)

    async def next_event(self, timeout: float = 3.0) -> tuple[str, object]:
        """The next `event:` block (skipping retry and heartbeat comments)."""
        while True:
            block = await self.next_block(timeout)
            fields = dict(line.split(": ", 1) for line in block if not line.startswith(":"))
            if "event" in fields:
                return fields["event"], json.loads(fields["data"])


async def open_stream(
    client: httpx.AsyncClient, url: str
) -> tuple[httpx.Response, Stream]:
    request = client.build_request("GET", url)
    response = await client.send(request, stream=True)
    return response, Stream(response)


def ids(data: object) -> list[str]:
    assert isinstance(data, list)
    return [p["id"] for p in data]


async def test_stream_sends_the_list_then_every_change(
    base_url: str, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    cookies = await session(store, "admin")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, f"/conferences/{conference.id}/events")
        try:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            first = await stream.next_block()
            assert first == [f"retry: {events.RETRY_MS}"]
            event, data = await stream.next_event()
            assert event == "participants" and ids(data) == ["p1", "p2"]
            assert data[0]["speaking"] is False and data[1]["state"] == "lobby"  # type: ignore[index]
            # A join, a mute, speaking: each arrives by itself, no request from the client.
            live.add(conference.numeric_id, "p3", "Carol")
            event, data = await stream.next_event()
            assert ids(data) == ["p1", "p2", "p3"]
            live.set_muted(conference.numeric_id, "p1", True)
            event, data = await stream.next_event()
            assert data[0]["muted"] is True  # type: ignore[index]
            room = live.rooms[conference.numeric_id]
            room[2] = replace(room[2], speaking=True)
            event, data = await stream.next_event()
            assert data[2]["speaking"] is True  # type: ignore[index]
            live.drop(conference.numeric_id, "p2")
            event, data = await stream.next_event()
            assert ids(data) == ["p1", "p3"]
        finally:
            await response.aclose()


async def test_nothing_changed_means_heartbeats_only_and_a_revoked_session_ends_it(
    base_url: str,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_S", 0.5)
    cookies = await session(store, CREATOR)
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, f"/conferences/{conference.id}/events")
        try:
            await stream.next_block()  # retry
            assert (await stream.next_event())[0] == "participants"
            assert await stream.next_block() == [": heartbeat"]
            await store.revoke_token(cookies["mcu_session"])
            event, _ = await stream.next_event()
            assert event == "expired"
            with pytest.raises(StopAsyncIteration):
                await stream.lines.__anext__()  # the server ended the stream
        finally:
            await response.aclose()


async def test_a_renumbered_conference_tells_the_page_to_reload(
    base_url: str,
    store: Store,
    conference: ConferenceRecord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_S", 0.3)
    cookies = await session(store, "admin")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, f"/conferences/{conference.id}/events")
        try:
            assert (await stream.next_event())[0] == "participants"
            await store.update_conference(conference.id, numeric_id="9999")
            assert (await stream.next_event())[0] == "changed"
        finally:
            await response.aclose()


async def test_the_stream_stops_when_the_client_goes_away(
    base_url: str, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    looks = 0
    real = live.participants

    def counting(numeric_id: str) -> list[ParticipantView]:
        nonlocal looks
        looks += 1
        return real(numeric_id)

    live.participants = counting  # type: ignore[method-assign]
    cookies = await session(store, "admin")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, f"/conferences/{conference.id}/events")
        await stream.next_event()
        await asyncio.sleep(0.6)
        assert looks >= 2  # polling every 250 ms while connected
        await response.aclose()
    await asyncio.sleep(0.6)  # the generator notices within a poll or two
    settled = looks
    await asyncio.sleep(1.0)
    assert looks == settled


async def test_stream_needs_a_session_and_view_participants(
    base_url: str, store: Store, conference: ConferenceRecord
) -> None:
    url = f"/conferences/{conference.id}/events"
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get(url)
        assert r.status_code == 401 and "event-stream" not in r.headers["content-type"]
    cookies = await session(store, "other_creator")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        r = await client.get(url)
        assert r.status_code == 403 and "no-control: not owner" in r.text
        assert (await client.get("/conferences/999999/events")).status_code == 404
    cookies = await session(store, "conference_creation_limited_control")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, url)
        try:
            assert response.status_code == 200  # limited control sees the list
            assert (await stream.next_event())[0] == "participants"
        finally:
            await response.aclose()


async def test_cameras_states_arrive_as_they_change(
    base_url: str, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    """``event: cameras`` (for a conference with stored cameras): the running cameras of
    this conference and their states; a camera whose participant went away is offline,
    not running."""
    camera = await store.create_camera(conference.id, "Door", "rtsp://10.0.0.9/cam")
    other = await store.create_conference("Elsewhere", "7777")
    live.rooms.setdefault("7777", [])
    elsewhere = await store.create_camera(other.id, "Yard", "rtsp://10.0.0.8/cam")
    live.start_camera("7777", elsewhere)
    cookies = await session(store, "admin")
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as client:
        response, stream = await open_stream(client, f"/conferences/{conference.id}/events")
        try:
            await stream.next_block()  # retry
            assert (await stream.next_event())[0] == "participants"
            assert await stream.next_event() == ("cameras", [])  # none running here yet
            pid = live.start_camera(conference.numeric_id, camera)
            seen: dict[str, object] = {}
            while "cameras" not in seen:
                event, data = await stream.next_event()
                seen[event] = data
            assert seen["cameras"] == [{"id": camera.id, "state": "live", "reason": "",
                                        "participant_id": pid}]
            live.drop(conference.numeric_id, str(pid))
            event, data = await stream.next_event()
            while event != "cameras":
                event, data = await stream.next_event()
            assert data == [{"id": camera.id, "state": "offline", "reason": "not running",
                             "participant_id": None}]
        finally:
            await response.aclose()
