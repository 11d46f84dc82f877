"""Self-check of the baresip peer harness: two baresips call each other on loopback.

These prove tests/peers/ works (config, console control, recordings, tone
analysis) before it is pointed at the MCU.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.audio_analysis import dominant_tones, hears, read_wav
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.system_deps import missing

pytestmark = pytest.mark.peer


@pytest.fixture(autouse=True)
def baresip_installed() -> None:
    if not baresip_available():
        missing("baresip")

TONE_A = 440.0
TONE_B = 1300.0
TALK_SECONDS = 2.0
DECODER_NAME = {"pcmu": "PCMU", "g722": "G722", "opus": "opus"}


def make_pair(
    workdir: Path, codecs: list[str], transport: str = "udp"
) -> tuple[BaresipPeer, BaresipPeer]:
    a = BaresipPeer(workdir, "alice", 0, TONE_A, codecs, transport=transport)
    b = BaresipPeer(workdir, "bob", 0, TONE_B, codecs, transport=transport)
    return a, b


@pytest.fixture
def pair_factory(tmp_path: Path) -> Iterator:
    started: list[BaresipPeer] = []

    def factory(codecs: list[str], transport: str = "udp") -> tuple[BaresipPeer, BaresipPeer]:
        a, b = make_pair(tmp_path, codecs, transport)
        started.extend([a, b])
        a.start()
        b.start()
        return a, b

    yield factory
    for peer in started:
        peer.close()
        assert not peer.alive()


def call(a: BaresipPeer, b: BaresipPeer) -> None:
    a.dial(b.aor)
    a.wait_established()
    b.wait_established()


def hang_up(a: BaresipPeer, b: BaresipPeer) -> None:
    a.hangup()
    b.wait_terminated()
    time.sleep(0.2)  # let sndfile close the recordings


def describe(path: Path | None) -> str:
    if path is None:
        return "no recording"
    audio = read_wav(path)
    peaks = dominant_tones(audio.samples, audio.rate)
    return f"{path.name}: {audio.seconds:.1f}s @{audio.rate}Hz, peaks {peaks}"


def assert_hears_only_other(peer: BaresipPeer, other_tone: float, own_tone: float) -> None:
    wav = peer.received_wav_path()
    assert wav is not None, f"{peer.name} recorded nothing\n{peer.log_tail()}"
    assert read_wav(wav).seconds >= TALK_SECONDS - 0.5, describe(wav)
    assert hears(wav, other_tone), f"{peer.name} does not hear {other_tone} Hz: {describe(wav)}"
    assert not hears(wav, own_tone), f"{peer.name} hears its own {own_tone} Hz: {describe(wav)}"


@pytest.mark.parametrize(
    ("codec", "transport"),
    [("pcmu", "udp"), ("g722", "udp"), ("opus", "udp"), ("pcmu", "tcp")],
)
def test_two_peers_hear_each_other(pair_factory, codec: str, transport: str) -> None:
    a, b = pair_factory([codec], transport)
    call(a, b)
    time.sleep(TALK_SECONDS)
    hang_up(a, b)
    for peer in (a, b):
        assert peer.count(f"Set audio decoder: {DECODER_NAME[codec]}") >= 1, peer.log_tail()
    assert_hears_only_other(a, TONE_B, TONE_A)
    assert_hears_only_other(b, TONE_A, TONE_B)


def test_tcp_call_uses_tcp(pair_factory) -> None:
    a, b = pair_factory(["pcmu"], "tcp")
    assert b.aor.endswith(";transport=tcp")
    call(a, b)
    hang_up(a, b)


def test_hold_and_resume(pair_factory) -> None:
    a, b = pair_factory(["pcmu"])
    call(a, b)
    a.hold()
    a.wait_for("call: hold")
    b.wait_for("got re-INVITE", occurrence=1)
    time.sleep(1.0)
    a.resume()
    a.wait_for("call: resume")
    b.wait_for("got re-INVITE", occurrence=2)
    time.sleep(1.5)
    hang_up(a, b)
    # baresip stops RTP both ways while held; 20 ms packets resume afterwards.
    packets = b.rtp_packets()
    assert packets is not None, b.log_tail()
    assert packets[1] >= 50, f"too few RTP packets after resume: {packets}"


def test_dtmf(pair_factory) -> None:
    a, b = pair_factory(["pcmu"])
    call(a, b)
    a.send_dtmf("12#")
    for digit in "12#":
        b.wait_for(f"received event: '{digit}' (end=1)")
    hang_up(a, b)


def test_kill9_and_quit_leave_no_process(tmp_path: Path) -> None:
    a, b = make_pair(tmp_path, ["pcmu"])
    with a, b:
        a.kill9()
        assert not a.alive()
        assert b.quit() is not None
        assert not b.alive()
