"""Endpoint entry with real baresip callers: PINs by RFC 4733 and by in-band tones,
wrong PINs, lockouts, chairperson and guests, the auto attendant, direct entry.

Each caller keys digits as a hardware endpoint would; what it then hears (an FFT of
the WAV it recorded) shows whether it really is in the conference.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.dtmf.signals import sequence, silence, to_int16
from tests.e2e.conftest import TONES, RunningMcu
from tests.peers.audio_analysis import hears, read_wav, tone_dbfs, tone_level_db
from tests.peers.baresip import BaresipPeer

pytestmark = pytest.mark.peer
TALK_SECONDS = 3.0
PIN, GUEST_PIN = "2468", "1357"


def configure(mcu: RunningMcu, numeric_id: str, **fields) -> None:
    """A conference as the web control would create it, in the MCU's own store."""
    store = mcu.mcu.store
    mcu.run(store.create_conference(f"Room {numeric_id}", numeric_id, **fields))
    mcu.run(mcu.mcu.refresh_conferences())


def states(mcu: RunningMcu, numeric_id: str) -> list[tuple[str, str | None]]:
    return mcu.inspect(lambda m: [(p.state, p.role) for p in m.participants(numeric_id)])


def wait_states(mcu: RunningMcu, numeric_id: str, expected: list[tuple[str, str | None]],
                timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sorted(states(mcu, numeric_id), key=str) == sorted(expected, key=str):
            return
        time.sleep(0.05)
    raise AssertionError(f"{numeric_id}: {states(mcu, numeric_id)} != {expected}")


def call(peer: BaresipPeer, mcu: RunningMcu, user: str) -> None:
    peer.dial(f"sip:{user}@{mcu.uri_host}" if user else f"sip:{mcu.uri_host}")
    peer.wait_established()


def hang_up(*party: BaresipPeer) -> None:
    for peer in party:
        peer.hangup()
    time.sleep(0.3)  # let sndfile close its recordings


def test_pin_by_rfc4733_admits_and_lobby_callers_hear_nothing_of_the_conference(
        start_mcu, peers):
    mcu = start_mcu()
    configure(mcu, "4321", pin=PIN)
    a, b, lobby = (peers(f"p{i}", tone, ["pcmu"]) for i, tone in enumerate(TONES))
    call(a, mcu, "4321")
    wait_states(mcu, "4321", [("lobby", None)])  # answered (200 OK) before the prompt
    a.send_dtmf(PIN + "#")
    wait_states(mcu, "4321", [("connected", "participant")])
    call(b, mcu, "4321")
    b.send_dtmf(PIN + "#")
    call(lobby, mcu, "4321")  # stays in the lobby, keying nothing
    wait_states(mcu, "4321", [("connected", "participant")] * 2 + [("lobby", None)])
    time.sleep(TALK_SECONDS)
    hang_up(a, b, lobby)
    a_heard, b_heard, lobby_heard = (p.received_wav_path() for p in (a, b, lobby))
    assert hears(a_heard, TONES[1], skip_seconds=2.0) and hears(b_heard, TONES[0], 1.0)
    assert not hears(a_heard, TONES[2], 2.0) and not hears(b_heard, TONES[2], 1.0)
    assert not hears(lobby_heard, TONES[0], 0.5) and not hears(lobby_heard, TONES[1], 0.5)
    mcu.wait_idle()


def _keyed_wav(path: Path, digits: str, then_hz: float, rate: int = 8000) -> Path:
    """What an endpoint that can only play audio sends: tones for the PIN, then a voice
    (a sine) to be heard in the conference."""
    t = np.arange(int(rate * 6.0)) / rate
    voice = 8000.0 * np.sin(2 * np.pi * then_hz * t)  # int16 scale, as signals.tone
    audio = np.concatenate([silence(rate, 1500), sequence(digits, rate, on_ms=120, off_ms=120),
                            silence(rate, 800), voice])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(to_int16(audio).tobytes())
    return path


def test_pin_by_inband_tones_from_a_recorded_wav(start_mcu, peers, tmp_path):
    mcu = start_mcu(entry={"inband_dtmf": "always"})  # baresip always offers telephone-event
    configure(mcu, "5555", pin=PIN)
    wav = _keyed_wav(tmp_path / "keyed.wav", PIN + "#", then_hz=TONES[2])
    listener = peers("listener", TONES[0], ["pcmu"])
    call(listener, mcu, "5555*" + PIN)  # direct entry: no prompts
    wait_states(mcu, "5555", [("connected", "participant")])
    tones = BaresipPeer(tmp_path, "tones", 0, 0, ["pcmu"], audio_file=wav).start()
    try:
        call(tones, mcu, "5555")
        wait_states(mcu, "5555", [("connected", "participant")] * 2, timeout=15)
        time.sleep(TALK_SECONDS)
        hang_up(listener, tones)
        assert hears(listener.received_wav_path(), TONES[2], skip_seconds=1.0)
        assert hears(tones.received_wav_path(), TONES[0], skip_seconds=4.0)
    finally:
        tones.close()
    mcu.wait_idle()


def test_three_wrong_pins_end_the_call(start_mcu, peers):
    mcu = start_mcu()
    configure(mcu, "6000", pin=PIN)
    guesser = peers("guesser", TONES[0], ["pcmu"])
    call(guesser, mcu, "6000")
    mark = guesser.mark()
    guesser.send_dtmf("1111#2222#3333#")
    guesser.wait_terminated(timeout=20, after=mark)  # BYE from the MCU after "goodbye"
    mcu.wait_idle()


def test_twenty_one_failures_lock_one_source_and_not_another(start_mcu, peers, tmp_path):
    # 11 wrong PINs per call, so two calls make the 21 failures that lock.
    mcu = start_mcu(entry={"pin_attempts": 11})
    configure(mcu, "7000", pin=PIN)
    guesser = peers("guesser", TONES[0], ["pcmu"])
    for _ in range(2):
        call(guesser, mcu, "7000")
        mark = guesser.mark()
        guesser.send_dtmf("9#" * 11)
        guesser.wait_terminated(timeout=30, after=mark)
    locked = mcu.inspect(lambda m: m.entry.guard.locked("127.0.0.1", "7000", time.monotonic()))
    assert locked is not None and locked.scope == "source"
    # The right PIN from the locked source is refused...
    call(guesser, mcu, "7000")
    mark = guesser.mark()
    guesser.send_dtmf(PIN + "#")
    guesser.wait_terminated(timeout=20, after=mark)
    # ...while another source still gets in.
    other = BaresipPeer(tmp_path, "other", 0, TONES[1], ["pcmu"], host="127.0.0.2").start()
    try:
        call(other, mcu, "7000")
        other.send_dtmf(PIN + "#")
        wait_states(mcu, "7000", [("connected", "participant")])
        hang_up(other)
    finally:
        other.close()
    assert mcu.inspect(lambda m: m.metrics.value("mcu_pin_lockouts_total", scope="source")) == 1
    audit = mcu.run(mcu.mcu.store.list_audit())
    assert [a.operation for a in audit].count("pin_lockout") == 1
    assert PIN not in " ".join(f"{a.target} {a.outcome}" for a in audit)
    mcu.wait_idle()


def _hears_between(path: Path, freq: float, start_s: float, end_s: float) -> bool:
    """``hears`` on one stretch of the recording (prompts are speech: broadband, so
    they never stand out 20 dB at one frequency the way a participant's sine does)."""
    part = read_wav(path).slice(start_s, end_s)
    return (tone_dbfs(part.samples, part.rate, freq) >= -40.0
            and tone_level_db(part.samples, part.rate, freq) >= 20.0)


def test_guests_wait_for_the_chairperson_and_the_conference_ends_with_the_last_chair(
        start_mcu, peers):
    mcu = start_mcu()
    configure(mcu, "8100", pin=PIN, guest_pin=GUEST_PIN, end_when_chair_leaves=True)
    guest1, guest2, chair = (peers(f"g{i}", tone, ["pcmu"]) for i, tone in enumerate(TONES))
    for guest in (guest1, guest2):
        call(guest, mcu, "8100")
        guest.send_dtmf(GUEST_PIN + "#")
    wait_states(mcu, "8100", [("waiting", "guest")] * 2)
    waited_from = time.monotonic()
    time.sleep(TALK_SECONDS)  # two guests, no chairperson: they must not hear each other
    call(chair, mcu, "8100")
    chair.send_dtmf(PIN + "#")
    wait_states(mcu, "8100", [("connected", "guest")] * 2 + [("connected", "chair")])
    time.sleep(TALK_SECONDS)
    marks = [guest1.mark(), guest2.mark()]
    hang_up(chair)  # the last chairperson leaves: the MCU ends the conference
    for guest, mark in zip((guest1, guest2), marks, strict=True):
        guest.wait_terminated(timeout=10, after=mark)
    time.sleep(0.3)
    first = guest1.received_wav_path()
    waited = time.monotonic() - waited_from  # generous bound of the waiting span's end
    assert not _hears_between(first, TONES[1], 0.5, TALK_SECONDS - 0.5), "guest heard a guest"
    assert hears(first, TONES[2], skip_seconds=min(waited, TALK_SECONDS + 1.0))
    mcu.wait_idle()


def test_auto_attendant_menu_then_id_then_pin(start_mcu, peers):
    mcu = start_mcu(conferences={"ad_hoc": False})  # only configured IDs exist
    configure(mcu, "4444", pin=PIN)
    a, b = peers("menu", TONES[0], ["pcmu"]), peers("direct", TONES[1], ["pcmu"])
    call(b, mcu, "4444**" + PIN)  # direct entry, ID**PIN form
    wait_states(mcu, "4444", [("connected", "participant")])
    call(a, mcu, "0")  # baresip cannot dial a bare host (sip:IP): tests/test_dialled.py
    wait_states(mcu, "0", [("lobby", None)])
    a.send_dtmf("9999#")  # no such conference: told so, asked again
    time.sleep(0.5)
    a.send_dtmf("4444#")
    time.sleep(0.5)
    a.send_dtmf(PIN + "#")
    wait_states(mcu, "4444", [("connected", "participant")] * 2)
    time.sleep(TALK_SECONDS)
    hang_up(a, b)
    assert hears(b.received_wav_path(), TONES[0], skip_seconds=3.0)
    assert hears(a.received_wav_path(), TONES[1], skip_seconds=3.0)
    mcu.wait_idle()


def test_no_digits_at_all_is_asked_again_then_hung_up_cleanly(start_mcu, peers):
    mcu = start_mcu(entry={"digit_timeout_s": 1.0, "timeouts_allowed": 1})
    configure(mcu, "6100", pin=PIN)
    silent = peers("silent", TONES[0], ["pcmu"])
    call(silent, mcu, "6100")
    mark = silent.mark()
    wait_states(mcu, "6100", [("lobby", None)])
    silent.wait_terminated(timeout=30, after=mark)  # prompt, timeout, prompt, goodbye, BYE
    mcu.wait_idle()


def _pin_failures(mcu: RunningMcu, numeric_id: str) -> int:
    return mcu.inspect(lambda m: m.entry.guard.failures("conference", numeric_id,
                                                        time.monotonic()))


@pytest.mark.parametrize("how", ["dialled", "keyed"])
def test_an_overlong_pin_is_wrong_and_the_right_one_still_works(start_mcu, peers, how):
    """200 digits dialled with the number (ID*PIN), or 40 keyed (past entry.max_digits:
    baresip sends a digit about every 0.2 s), starting with the right PIN."""
    mcu = start_mcu()
    configure(mcu, "6200", pin=PIN)
    caller = peers("long", TONES[0], ["pcmu"])
    if how == "dialled":
        call(caller, mcu, "6200*" + PIN * 50)
    else:
        call(caller, mcu, "6200")
        caller.send_dtmf(PIN * 10 + "#")
    deadline = time.monotonic() + 30
    while _pin_failures(mcu, "6200") == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pin_failures(mcu, "6200") == 1 and states(mcu, "6200") == [("lobby", None)]
    caller.send_dtmf(PIN + "#")
    wait_states(mcu, "6200", [("connected", "participant")])
    hang_up(caller)
    mcu.wait_idle()
