"""Isolated legs (lobby, attendant, waiting room) and in-band DTMF detection in the mixer."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.leg import Dtmf
from gateway.media import EncodedAudio
from mcu.mixer.audio import AudioMixer, TonesDetected
from mcu.mixer.codecs import make_decoder, make_encoder
from mcu.mixer.resample import Downsampler
from mcu.prompts import PromptPlayer
from mcu.settings import MixerSettings
from tests.dtmf import signals
from tests.mixer.fakes import PCMA, PCMU, FakeLeg, band_db

A_HZ, B_HZ, ISO_HZ = 1000.0, 1700.0, 400.0
TICKS = 50


def run(mixer: AudioMixer, ticks: int) -> list:
    events = []
    for _ in range(ticks):
        mixer.tick()
        events += mixer.events()
    return events


def rms_db(pcm: np.ndarray) -> float:
    x = pcm.astype(np.float64)
    return float(10 * np.log10(np.mean(x * x) / 32768.0**2 + 1e-20))


def reference(prompt: str, ticks: int, fmt=PCMU) -> np.ndarray:
    """What a far end hears of ``prompt`` sent alone: one continuous downsampling stream."""
    player = PromptPlayer()
    player.play(prompt)
    down, enc, dec = Downsampler(fmt.sample_rate), make_encoder(fmt), make_decoder(fmt)
    frames = []
    for _ in range(ticks):
        pcm = player.next_frame()
        if pcm is None:
            pcm = np.zeros(960, np.int16)
        frames.append(dec.decode(enc.encode(down.process(pcm))))
    return np.concatenate(frames)


def room(listener: bool = False):
    """a and b talk; iso talks loudly too but is isolated with a prompt; d only listens."""
    mixer = AudioMixer(MixerSettings(speakers=3))
    a = FakeLeg("a", PCMU, A_HZ, 8000)
    b = FakeLeg("b", PCMU, B_HZ, 8000)
    iso = FakeLeg("iso", PCMU, ISO_HZ, 16000)
    legs = [a, b, iso]
    if listener:
        legs.append(FakeLeg("d", PCMU, None))
    for leg in legs:
        mixer.add(leg)
    player = PromptPlayer()
    player.play("enter_pin")
    mixer.isolate("iso", player)
    return mixer, a, b, iso, legs[3] if listener else None, player


def test_isolated_leg_is_never_in_the_mix_others_hear() -> None:
    mixer, a, b, iso, d, _ = room(listener=True)
    run(mixer, TICKS)
    assert "iso" not in mixer.speakers
    assert set(mixer.speakers) == {"a", "b"}
    assert mixer.levels["iso"] > -20  # it is loud: only the isolation keeps it out
    for leg, hears in ((a, B_HZ), (b, A_HZ), (d, A_HZ)):
        pcm = leg.heard(TICKS)
        assert band_db(pcm, 8000, hears) > -25, leg.id
        assert band_db(pcm, 8000, ISO_HZ) < -55, leg.id
    assert band_db(d.heard(TICKS), 8000, B_HZ) > -25


def test_isolated_leg_gets_a_frame_every_tick() -> None:
    mixer, *_, iso, _d, _p = room()
    run(mixer, 10)
    assert len(iso.received) == 10
    assert all(isinstance(f, EncodedAudio) and len(f.payload) == 160 for f in iso.received)


def test_isolated_leg_hears_the_prompt_at_its_level() -> None:
    mixer, a, b, iso, _, player = room()
    run(mixer, TICKS)
    heard = iso.heard()
    ref = reference("enter_pin", TICKS)
    assert rms_db(ref) > -40  # the prompt is speaking during these ticks
    assert abs(rms_db(heard) - rms_db(ref)) < 1.5
    # It is the prompt, not the room: strongly correlated with what was played.
    corr = float(np.corrcoef(heard.astype(float), ref)[0, 1])
    assert corr > 0.9
    assert player.playing


def test_isolated_leg_with_nothing_playing_hears_silence_when_nobody_shares_the_mix() -> None:
    mixer = AudioMixer(MixerSettings(speakers=3))
    a, iso = FakeLeg("a", PCMU, A_HZ, 12000), FakeLeg("iso", PCMU, None)
    mixer.add(a)
    mixer.add(iso)
    mixer.isolate("iso", PromptPlayer())  # idle player: next_frame() is None
    run(mixer, 20)
    assert np.abs(iso.heard()).max() <= 8  # PCMU's smallest steps


def test_isolated_leg_hears_nothing_of_the_conference_when_a_listener_shares_the_mix() -> None:
    mixer = AudioMixer(MixerSettings(speakers=3))
    a, d = FakeLeg("a", PCMU, A_HZ, 12000), FakeLeg("d", PCMU, None)
    iso = FakeLeg("iso", PCMU, None)
    for leg in (a, d, iso):
        mixer.add(leg)
    mixer.isolate("iso", PromptPlayer())
    run(mixer, 20)
    assert band_db(d.heard(), 8000, A_HZ) > -25  # the shared mix exists and carries a
    heard = iso.heard()
    assert band_db(heard, 8000, A_HZ) < -60
    assert np.abs(heard).max() <= 8


def test_isolated_leg_hears_the_prompt_without_frame_edge_artefacts() -> None:
    mixer, a, b, iso, _, _ = room()
    run(mixer, TICKS)
    ref = reference("enter_pin", TICKS)
    residual = iso.heard().astype(float) - ref
    assert rms_db(residual) < rms_db(ref) - 30


def test_isolate_none_puts_the_leg_back() -> None:
    mixer, a, b, iso, d, _ = room(listener=True)
    run(mixer, TICKS)
    mixer.isolate("iso", None)
    run(mixer, TICKS)
    assert "iso" in mixer.speakers
    assert band_db(d.heard(25), 8000, ISO_HZ) > -25
    assert band_db(a.heard(25), 8000, ISO_HZ) > -25
    heard = iso.heard(25)  # it hears the room again
    assert band_db(heard, 8000, A_HZ) > -25 and band_db(heard, 8000, B_HZ) > -25
    assert band_db(heard, 8000, ISO_HZ) < -50  # but never itself


def test_isolating_a_speaker_takes_it_out_of_the_mix_next_tick() -> None:
    mixer = AudioMixer(MixerSettings(speakers=3))
    a, b = FakeLeg("a", PCMU, A_HZ, 8000), FakeLeg("b", PCMU, None)
    mixer.add(a)
    mixer.add(b)
    run(mixer, 10)
    assert mixer.speakers == ("a",)
    mixer.isolate("a", PromptPlayer())
    run(mixer, 30)
    assert mixer.speakers == ()
    assert band_db(b.heard(20), 8000, A_HZ) < -55


def test_isolated_leg_is_still_metered() -> None:
    mixer, *_ = room()
    run(mixer, 5)
    assert mixer.levels["iso"] > -20


def test_isolate_unknown_leg_raises() -> None:
    with pytest.raises(KeyError):
        AudioMixer().isolate("ghost", None)
    with pytest.raises(KeyError):
        AudioMixer().detect_tones("ghost", True)


# ---- in-band DTMF ----------------------------------------------------------------------


class ToneLeg(FakeLeg):
    """Sends a fixed PCM signal, 20 ms per read, then silence."""

    def __init__(self, leg_id: str, pcm: np.ndarray, fmt=PCMU) -> None:
        super().__init__(leg_id, fmt, None)
        self.frames = signals.frames(pcm, fmt.sample_rate)

    def read_audio(self) -> EncodedAudio | None:
        n = self.sent
        self.sent += 1
        pcm = self.frames[n] if n < len(self.frames) else np.zeros(self.samples, np.int16)
        return EncodedAudio(self.encoder.encode(pcm))


def five(rate: int = 8000) -> np.ndarray:
    return np.concatenate([signals.silence(rate, 40), signals.tone("5", rate, 100, -10.0),
                           signals.silence(rate, 400)])


def five_by_hand(rate: int = 8000) -> np.ndarray:
    t = np.arange(rate // 10) / rate
    a = signals.amplitude(-13.0)  # each tone 3 dB below the pair: about -10 dBm0 in all
    on = a * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    return np.concatenate([on, np.zeros(rate // 2)])


def tones(events: list) -> list[TonesDetected]:
    return [e for e in events if isinstance(e, TonesDetected)]


@pytest.mark.parametrize("signal", [five, five_by_hand])
@pytest.mark.parametrize("fmt", [PCMU, PCMA])
def test_detect_tones_reports_one_key_press(signal, fmt) -> None:
    mixer = AudioMixer()
    leg = ToneLeg("t", signal(), fmt)
    other = FakeLeg("o", PCMU, 440.0)
    mixer.add(leg)
    mixer.add(other)
    mixer.detect_tones("t", True)
    found = tones(run(mixer, 40))
    assert len(found) == 1
    ev = found[0]
    assert ev.leg_id == "t"
    assert isinstance(ev.dtmf, Dtmf)
    assert (ev.dtmf.digit, ev.dtmf.source) == ("5", "inband")
    assert 80 <= ev.dtmf.duration_ms <= 120


def test_detect_tones_off_reports_nothing() -> None:
    mixer = AudioMixer()
    mixer.add(ToneLeg("t", five()))
    found = tones(run(mixer, 40))
    assert found == []
    mixer.detect_tones("t", False)
    assert tones(run(mixer, 10)) == []


def test_detection_is_per_leg() -> None:
    mixer = AudioMixer()
    mixer.add(ToneLeg("watched", five()))
    mixer.add(ToneLeg("ignored", five()))
    mixer.detect_tones("watched", True)
    found = tones(run(mixer, 40))
    assert [e.leg_id for e in found] == ["watched"]


def test_detection_works_on_an_isolated_leg() -> None:
    """A lobby caller keys its PIN in-band while hearing a prompt."""
    mixer = AudioMixer()
    mixer.add(ToneLeg("t", five()))
    player = PromptPlayer()
    player.play("enter_pin")
    mixer.isolate("t", player)
    mixer.detect_tones("t", True)
    assert [e.dtmf.digit for e in tones(run(mixer, 40))] == ["5"]


def test_a_plain_tone_is_not_a_key() -> None:
    mixer = AudioMixer()
    mixer.add(FakeLeg("s", PCMU, 770.0, 8000))
    mixer.detect_tones("s", True)
    assert tones(run(mixer, 50)) == []


def test_switching_detection_off_mid_tone_drops_it() -> None:
    mixer = AudioMixer()
    mixer.add(ToneLeg("t", five()))
    mixer.detect_tones("t", True)
    run(mixer, 4)  # 80 ms: inside the tone
    mixer.detect_tones("t", False)
    assert tones(run(mixer, 3)) == []
    mixer.detect_tones("t", True)  # starts clean: the rest of the tone is only silence
    assert tones(run(mixer, 30)) == []


def test_two_key_presses_in_sequence() -> None:
    pcm = signals.sequence("58", 8000, on_ms=80, off_ms=80)
    mixer = AudioMixer()
    mixer.add(ToneLeg("t", pcm))
    mixer.detect_tones("t", True)
    assert [e.dtmf.digit for e in tones(run(mixer, 30))] == ["5", "8"]
