"""Scheduled conferences with real baresip endpoints: closed before the start (480),
preconfigured participants dialled when the window opens, encryption required (488),
and a call record for every participation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from mcu.store import ParticipantRecord
from tests.e2e.conftest import TONES
from tests.e2e.test_entry import states, wait_states
from tests.peers.audio_analysis import hears

pytestmark = pytest.mark.peer


def test_closed_before_start_then_preconfigured_participants_are_dialled(start_mcu, peers):
    mcu = start_mcu()
    store = mcu.mcu.store
    room, early = peers("room", TONES[0], ["pcmu"]), peers("early", TONES[1], ["pcmu"])
    start = datetime.now(UTC) + timedelta(seconds=4)
    record = mcu.run(store.create_conference("Weekly", "9100", start_time=start,
                                             duration_seconds=600, repetition="weekly",
                                             repeat_count=4))
    mcu.run(store.set_participants(record.id, [ParticipantRecord(room.aor, "Room system")]))
    mcu.run(mcu.mcu.refresh_conferences())
    mark = early.mark()
    early.dial(f"sip:9100@{mcu.uri_host}")
    early.wait_for("480", timeout=10, after=mark)  # Temporarily Unavailable: not started
    assert states(mcu, "9100") == []
    room.wait_established(timeout=15)  # the MCU calls the room system at the start time
    wait_states(mcu, "9100", [("connected", "participant")])
    early.dial(f"sip:9100@{mcu.uri_host}")
    early.wait_established()
    time.sleep(3.0)
    marks = [room.mark(), early.mark()]
    # The end time: the MCU hangs up everyone (BYE).
    mcu.run(store.update_conference(record.id, duration_seconds=1))
    mcu.run(mcu.mcu.refresh_conferences())
    for peer, mark in zip((room, early), marks, strict=True):
        peer.wait_terminated(timeout=10, after=mark)
    time.sleep(0.3)  # let sndfile close its recordings
    assert hears(room.received_wav_path(), TONES[1], skip_seconds=1.0)
    mcu.wait_idle()
    records = mcu.run(store.list_calls())
    assert len(records) == 2 and all(r.ended_at is not None for r in records)
    assert {r.conference_numeric_id for r in records} == {"9100"}


def test_encryption_required_refuses_unencrypted_calls(start_mcu, peers):
    mcu = start_mcu()
    mcu.run(mcu.mcu.store.create_conference("Secret", "9200", encryption="required"))
    mcu.run(mcu.mcu.refresh_conferences())
    caller = peers("plain", TONES[0], ["pcmu"])
    mark = caller.mark()
    caller.dial(f"sip:9200@{mcu.uri_host}")
    caller.wait_for("488", timeout=10, after=mark)
    mcu.wait_idle()
