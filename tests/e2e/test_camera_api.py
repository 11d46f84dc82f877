"""An IP camera added over the HTTP API (issue 12), with a real MCU, GStreamer's RTSP
server behind Digest auth and a baresip watching: it is seen, listed as live and as a
participant of kind camera, removed (the participant gone, the MCU idle), and its
password is nowhere: HTTP answers, the conference page, audit rows, call records, logs.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_rtsp_camera import rtsp, viewer  # noqa: F401 -- the viewer fixture
from tests.e2e.test_video_conference import VIDEO, join, snapshot_until
from tests.peers.baresip import BaresipPeer
from tests.rtsp.camera import rtsp_camera

pytestmark = pytest.mark.peer

ROOM = "3100"
SECRET = "s3cret-pw"


def test_camera_added_over_http_is_seen_listed_removed_and_keeps_its_secret(
        start_mcu, viewer: BaresipPeer, tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mcu = start_mcu(video=VIDEO, rtsp_client={"transport": "tcp"})
    password = mcu.mcu.store.generated_admin_password
    base = f"http://127.0.0.1:{mcu.mcu.web.port}"
    answers: list[str] = []
    with httpx.Client(base_url=base, timeout=10) as api:
        token = api.post("/api/v1/auth/token",
                         json={"username": "admin", "password": password}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        r = api.post("/api/v1/conferences", json={"name": "Cameras", "numeric_id": ROOM},
                     headers=h)
        assert r.status_code == 201, r.text
        conference_id = r.json()["id"]
        cameras = f"/api/v1/conferences/{conference_id}/cameras"
        join(mcu, ROOM, [viewer])
        with rtsp_camera(auth=("cam", SECRET)) as url:
            r = api.post(cameras, headers=h, json={
                "name": "Door", "url": url, "username": "cam", "password": SECRET,
                "transport": "tcp", "audio": False})
            answers.append(r.text)
            assert r.status_code == 201, r.text
            made = r.json()
            assert made["url"] == url and made["name"] == "Door"
            assert made["state"] in ("connecting", "live"), made
            snapshot_until(viewer, tmp_path, 1, ["green"])
            deadline = time.monotonic() + 15
            while True:
                listed = api.get(cameras, headers=h)
                answers.append(listed.text)
                [shown] = listed.json()
                if shown["state"] == "live" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert shown["state"] == "live", shown
            pid = shown["participant_id"]
            people = api.get(f"/api/v1/conferences/{conference_id}/participants", headers=h)
            answers.append(people.text)
            assert {p["id"]: p["kind"] for p in people.json()}[pid] == "camera"
            stats = api.get(f"/api/v1/conferences/{conference_id}/participants/{pid}/statistics",
                            headers=h)
            answers.append(stats.text)
            assert stats.json()["camera"]["url"] == url
            # The conference page, through the login form.
            form = api.get("/login")
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            r = api.post("/login", data={"csrf_token": csrf, "username": "admin",
                                         "password": password})
            assert r.status_code == 303, r.text
            page = api.get(f"/conferences/{conference_id}")
            assert page.status_code == 200 and "Door" in page.text and url in page.text
            answers.append(page.text)
            api.cookies.clear()
            r = api.delete(f"{cameras}/{made['id']}", headers=h)
            assert r.status_code == 204, r.text
            mcu.wait_until(lambda m: pid not in {v.id for v in m.participants(ROOM)}, timeout=10)
            answers.append(api.get(cameras, headers=h).text)
            assert api.get(cameras, headers=h).json() == []
            answers.append(api.get("/api/v1/audit", headers=h).text)
            answers.append(api.get("/api/v1/cdr", headers=h).text)
    viewer.hangup()
    mcu.wait_idle()
    assert mcu.inspect(lambda m: rtsp(m).statistics()["calls"]) == 0
    assert mcu.inspect(lambda m: m.ports.in_use) == 0
    store = mcu.mcu.store
    audit = mcu.run(store.list_audit(limit=1000))
    calls = mcu.run(store.list_calls(limit=1000))
    assert any(a.operation == "add_camera" for a in audit)
    texts = [*answers, caplog.text, json.dumps([repr(a) for a in audit]),
             json.dumps([repr(c) for c in calls])]
    for text in texts:
        assert SECRET not in text


def test_stored_camera_starts_with_the_window_and_stops_when_it_closes(start_mcu) -> None:
    """A scheduled conference's camera is dialled when its window opens (beside the
    preconfigured participants), with its stored ``audio`` choice, and hung up when it
    closes."""
    from datetime import UTC, datetime, timedelta

    mcu = start_mcu(video=VIDEO)
    store = mcu.mcu.store
    with rtsp_camera() as url:
        start = datetime.now(UTC) + timedelta(seconds=2)
        record = mcu.run(store.create_conference("Later", "3200", start_time=start,
                                                 duration_seconds=4))
        camera = mcu.run(store.create_camera(record.id, "Yard", url, audio=True))
        mcu.run(mcu.mcu.refresh_conferences())
        assert mcu.inspect(lambda m: m.camera_states()) == {}
        mcu.wait_until(lambda m: any(v.protocol == "rtsp" for v in m.participants("3200")),
                       timeout=10)
        state, _, pid = mcu.inspect(lambda m: m.camera_states())[camera.id]
        assert pid is not None and state in ("connecting", "live")
        # Stored with ``audio``: its PCMU is set up and mixed.
        mcu.wait_until(lambda m: (m.statistics("3200", pid) or {}).get("audio") is not None,
                       timeout=10)
        mcu.wait_until(lambda m: not m.participants("3200"), timeout=15)
        assert mcu.inspect(lambda m: m.camera_states()) == {}
    mcu.wait_idle()
    assert mcu.inspect(lambda m: m.ports.in_use) == 0
