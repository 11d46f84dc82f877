"""PIN entry by SIP INFO (application/dtmf-relay) from a real third-party phone: linphonec.

baresip 1.0 sends DTMF only as RFC 4733 events or in-band, so linphone 5.1
(`[sip] use_info=1`, `use_rfc2833=0`) is the caller that keys its PIN the way
many desk phones and PBXs do: one INFO request per digit.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import TONES, RunningMcu
from tests.peers.audio_analysis import hears
from tests.peers.linphone import LinphonePeer, linphone_available

pytestmark = pytest.mark.peer
ROOM, PIN = "4321", "2468"
LINPHONE_TONE = 700.0  # what the linphone caller sends (a WAV it plays as its microphone)
TALK_SECONDS = 3.0


@pytest.fixture
def linphone(tmp_path: Path) -> Iterator[Callable[..., LinphonePeer]]:
    if not linphone_available():
        pytest.fail("linphonec is missing: `make test` installs it "
                    "(scripts/install-system-deps.sh, Debian package linphone-cli)")
    started: list[LinphonePeer] = []

    def make(name: str, audio_file: Path | None = None) -> LinphonePeer:
        peer = LinphonePeer(tmp_path, name, audio_file=audio_file)
        started.append(peer)
        return peer.start()

    yield make
    for peer in started:
        peer.close()


def info_room(mcu: RunningMcu) -> None:
    mcu.run(mcu.mcu.store.create_conference("Info room", ROOM, pin=PIN))
    mcu.run(mcu.mcu.refresh_conferences())


def states(mcu: RunningMcu) -> list[tuple[str, str | None]]:
    return mcu.inspect(lambda m: [(p.state, p.role) for p in m.participants(ROOM)])


def wait_states(mcu: RunningMcu, expected: list[tuple[str, str | None]],
                timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sorted(states(mcu), key=str) == sorted(expected, key=str):
            return
        time.sleep(0.05)
    raise AssertionError(f"{ROOM}: {states(mcu)} != {expected}")


def pin_failures(mcu: RunningMcu) -> int:
    return mcu.inspect(lambda m: m.entry.guard.failures("conference", ROOM, time.monotonic()))


def dial_into_lobby(peer: LinphonePeer, mcu: RunningMcu) -> None:
    peer.dial(f"sip:{ROOM}@{mcu.uri_host}")
    peer.wait_established()
    wait_states(mcu, [("lobby", None)])


def tone_wav(path: Path, freq: float, seconds: float = 30.0, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def test_pin_by_sip_info_admits_the_linphone_caller(start_mcu, linphone):
    mcu = start_mcu()
    info_room(mcu)
    caller = linphone("lin")
    dial_into_lobby(caller, mcu)
    caller.send_dtmf(PIN + "#")  # five INFO requests, each answered 200 before the next
    wait_states(mcu, [("connected", "participant")])
    assert caller.info_completed() == 5
    caller.hangup()
    mcu.wait_idle()


def test_wrong_pin_by_sip_info_keeps_the_caller_in_the_lobby(start_mcu, linphone):
    mcu = start_mcu()
    info_room(mcu)
    caller = linphone("lin")
    dial_into_lobby(caller, mcu)
    caller.send_dtmf("1111#")
    deadline = time.monotonic() + 5.0
    while pin_failures(mcu) < 1:  # the digits arrived and were judged a wrong PIN
        assert time.monotonic() < deadline, f"no PIN failure counted\n{caller.log_tail()}"
        time.sleep(0.05)
    time.sleep(0.5)
    assert states(mcu) == [("lobby", None)]
    assert pin_failures(mcu) == 1
    caller.send_dtmf(PIN + "#")  # asked again: the right PIN still gets in
    wait_states(mcu, [("connected", "participant")])
    caller.hangup()
    mcu.wait_idle()


def test_the_linphone_caller_is_heard_once_admitted_by_info(start_mcu, linphone, peers,
                                                           tmp_path):
    mcu = start_mcu()
    info_room(mcu)
    listener = peers("bare", TONES[0], ["pcmu"])
    listener.dial(f"sip:{ROOM}@{mcu.uri_host}")
    listener.wait_established()
    wait_states(mcu, [("lobby", None)])
    listener.send_dtmf(PIN + "#")  # baresip keys its PIN by RFC 4733
    wait_states(mcu, [("connected", "participant")])
    caller = linphone("lin", audio_file=tone_wav(tmp_path / "tone.wav", LINPHONE_TONE))
    caller.dial(f"sip:{ROOM}@{mcu.uri_host}")
    caller.wait_established()
    wait_states(mcu, [("connected", "participant"), ("lobby", None)])
    caller.send_dtmf(PIN + "#")
    wait_states(mcu, [("connected", "participant")] * 2)
    time.sleep(TALK_SECONDS)
    caller.hangup()
    listener.hangup()
    time.sleep(0.3)  # let sndfile close its recording
    heard = listener.received_wav_path()
    assert heard is not None, listener.log_tail()
    assert hears(heard, LINPHONE_TONE, skip_seconds=0.5), "baresip does not hear linphone"
    assert caller.record_path.exists(), caller.log_tail()
    assert hears(caller.record_path, TONES[0], skip_seconds=0.5), "linphone hears no baresip"
    mcu.wait_idle()
