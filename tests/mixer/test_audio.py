from __future__ import annotations

import numpy as np
import pytest

from mcu.mixer.audio import (
    ActiveSpeakerChanged,
    AudioMixer,
    ParticipantJoined,
    ParticipantLeft,
    SpeakerStarted,
    SpeakerStopped,
)
from mcu.settings import MixerSettings
from tests.mixer.fakes import G722, OPUS, PCMA, PCMU, FakeLeg, band_db

FREQS = (400.0, 700.0, 1000.0, 1300.0, 1700.0)


def run(mixer: AudioMixer, ticks: int) -> None:
    for _ in range(ticks):
        mixer.tick()


def hears(leg: FakeLeg, freq: float, frames: int = 25) -> float:
    return band_db(leg.heard(frames), leg.audio_format.sample_rate, freq)


def test_each_leg_hears_the_others_and_not_itself() -> None:
    fmts = (PCMU, PCMA, G722, OPUS)
    legs = [FakeLeg(f"l{i}", fmt, FREQS[i]) for i, fmt in enumerate(fmts)]
    mixer = AudioMixer(MixerSettings(speakers=4))
    for leg in legs:
        mixer.add(leg)
    run(mixer, 50)
    for leg in legs:
        assert len(leg.received) == 50
        for other in legs:
            level = hears(leg, other.freq)
            if other is leg:
                assert level < -55, (leg.id, level)
            else:
                assert level > -20, (leg.id, other.id, level)


def test_k_loudest_of_five() -> None:
    amplitudes = (1000, 8000, 2000, 12000, 4000)
    legs = [FakeLeg(f"l{i}", PCMU, FREQS[i], a) for i, a in enumerate(amplitudes)]
    mixer = AudioMixer(MixerSettings(speakers=3))
    for leg in legs:
        mixer.add(leg)
    run(mixer, 30)
    assert mixer.speakers == ("l3", "l1", "l4")
    quiet = legs[0]  # a listener: hears exactly the three speakers
    assert all(hears(quiet, FREQS[i]) > -30 for i in (1, 3, 4))
    assert hears(quiet, FREQS[2]) < -55
    assert hears(legs[3], FREQS[3]) < -55  # the loudest never hears itself
    assert set(mixer.levels) == {leg.id for leg in legs}
    assert mixer.levels["l3"] > mixer.levels["l1"] > mixer.levels["l0"]


def test_equal_levels_tie_break_by_join_order_and_stay_stable() -> None:
    legs = [FakeLeg(f"l{i}", PCMU, 500, 6000) for i in range(5)]  # identical levels
    mixer = AudioMixer(MixerSettings(speakers=2))
    for leg in legs:
        mixer.add(leg)
    mixer.tick()
    assert mixer.speakers == ("l0", "l1")
    mixer.events()
    run(mixer, 30)
    assert mixer.speakers == ("l0", "l1")
    assert mixer.events() == []  # no flapping


def test_shared_mix_is_one_object_per_codec() -> None:
    speakers = [FakeLeg(f"s{i}", PCMU, FREQS[i], 10000) for i in range(3)]
    ulaw = [FakeLeg(f"u{i}", PCMU, None) for i in range(3)]
    alaw = [FakeLeg(f"a{i}", PCMA, None) for i in range(2)]
    opus = [FakeLeg(f"o{i}", OPUS, None) for i in range(2)]
    mixer = AudioMixer()
    for leg in speakers + ulaw + alaw + opus:
        mixer.add(leg)
    run(mixer, 3)
    assert set(mixer.speakers) == {"s0", "s1", "s2"}
    for group in (ulaw, alaw, opus):
        assert all(leg.received[-1] is group[0].received[-1] for leg in group)
    shared = {id(g[0].received[-1]) for g in (ulaw, alaw, opus)}
    personal = {id(leg.received[-1]) for leg in speakers}
    assert len(shared | personal) == 6


def test_mute_in_and_mute_out() -> None:
    a, b, c = (FakeLeg(n, PCMU, f) for n, f in zip("abc", FREQS, strict=False))
    mixer = AudioMixer()
    for leg in (a, b, c):
        mixer.add(leg)
    run(mixer, 10)
    mixer.set_mute_in("a", True)
    mixer.set_mute_out("b", True)
    run(mixer, 30)
    assert "a" not in mixer.speakers
    assert hears(c, FREQS[0]) < -60 and hears(c, FREQS[1]) > -20  # a is muted in
    assert len(b.received) == 40  # muted out: still one frame per tick...
    assert not b.heard(25).any()  # ...of silence
    mixer.set_mute_in("a", False)
    mixer.set_mute_out("b", False)
    run(mixer, 30)
    assert hears(c, FREQS[0]) > -20 and hears(b, FREQS[0]) > -20


def test_lone_participant_hears_silence() -> None:
    alone = FakeLeg("alone", G722, 1000, 12000)
    mixer = AudioMixer()
    mixer.add(alone)
    run(mixer, 20)
    assert mixer.speakers == ("alone",)
    assert np.abs(alone.heard(10).astype(int)).max() < 50


def test_silent_legs_still_receive() -> None:
    talker, mute = FakeLeg("t", PCMU, 500), FakeLeg("m", OPUS, None)
    mixer = AudioMixer()
    mixer.add(talker)
    mixer.add(mute)
    run(mixer, 20)
    assert len(mute.received) == 20 and hears(mute, 500) > -20
    assert mixer.levels["m"] == pytest.approx(-127.0)


def test_vad_hysteresis_and_hangover() -> None:
    settings = MixerSettings(vad_on_dbov=-45, vad_off_dbov=-50, vad_hangover_ms=100)
    leg, other = FakeLeg("v", PCMU, 500, 0), FakeLeg("o", PCMU, None)
    mixer = AudioMixer(settings)
    mixer.add(leg)
    mixer.add(other)

    def at(dbov: float, ticks: int = 1) -> None:
        leg.amplitude = 32768 * np.sqrt(2) * 10 ** (dbov / 20)
        run(mixer, ticks)

    at(-48, 5)  # between the thresholds, never on: stays off
    assert mixer.speakers == ()
    at(-40)  # above "on": starts at once
    assert mixer.speakers == ("v",)
    at(-48, 20)  # between the thresholds while on: holds
    assert mixer.speakers == ("v",)
    at(-70, 4)  # below "off": hangover of 100 ms = 5 ticks
    assert mixer.speakers == ("v",)
    at(-70)
    assert mixer.speakers == ()
    at(-70, 3)
    at(-40)
    assert mixer.speakers == ("v",)


def test_events() -> None:
    mixer = AudioMixer(MixerSettings(speakers=1))
    a, b = FakeLeg("a", PCMU, 400, 4000), FakeLeg("b", PCMU, 700, 0)
    mixer.add(a)
    mixer.add(b)
    run(mixer, 2)
    assert mixer.events() == [
        ParticipantJoined("a"),
        ParticipantJoined("b"),
        SpeakerStarted("a"),
        ActiveSpeakerChanged("a"),
    ]
    b.amplitude = 16000
    run(mixer, 2)
    assert mixer.events() == [SpeakerStopped("a"), SpeakerStarted("b"), ActiveSpeakerChanged("b")]
    mixer.remove("b")
    run(mixer, 1)
    assert mixer.events()[:3] == [
        ParticipantLeft("b"),
        SpeakerStopped("b"),
        SpeakerStarted("a"),
    ]
    with pytest.raises(ValueError):
        mixer.add(a)


def test_join_and_leave_mid_stream_skip_no_tick() -> None:
    legs = [FakeLeg(f"l{i}", PCMU, FREQS[i]) for i in range(3)]
    mixer = AudioMixer()
    for leg in legs:
        mixer.add(leg)
    late = FakeLeg("late", OPUS, 1700)
    for tick in range(60):
        if tick == 20:
            mixer.add(late)
        if tick == 40:
            mixer.remove("l0")
        collected = mixer.collect()
        if tick == 30:  # a change between collect and deliver (mix in a worker)
            mixer.remove("l1")
            mixer.add(FakeLeg("l1", PCMA, 1300))
        mixer.deliver(mixer.mix(collected))
    assert len(legs[2].received) == 60  # never a gap for a leg that stayed
    assert len(legs[0].received) == 40
    assert len(legs[1].received) == 30  # the old l1 got nothing after its removal
    assert len(late.received) == 40
    assert hears(legs[2], 1700, 15) > -20 and hears(late, FREQS[2], 15) > -20


def test_renegotiated_codec_resets_state() -> None:
    a, b = FakeLeg("a", PCMU, 500), FakeLeg("b", PCMU, 900)
    mixer = AudioMixer()
    mixer.add(a)
    mixer.add(b)
    run(mixer, 5)
    b.audio_format = G722
    from mcu.mixer.codecs import make_decoder, make_encoder

    b.encoder, b.samples = make_encoder(G722), 320
    b.received.clear()
    run(mixer, 20)
    assert len(make_decoder(G722).decode(b.received[-1].payload)) == 320
    assert hears(b, 500, 10) > -20 and hears(a, 900, 10) > -20


class LossyLeg(FakeLeg):
    """A participant on a bad network: most of its frames never arrive."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rng = np.random.default_rng(7)

    def read_audio(self):
        frame = super().read_audio()
        return frame if self._rng.random() > 0.6 else None


def test_a_participant_on_a_bad_network_never_makes_the_others_choppy() -> None:
    clean_a, clean_b = FakeLeg("a", PCMU, 400.0), FakeLeg("b", PCMU, 1000.0)
    lossy = LossyLeg("lossy", PCMU, 1700.0)
    mixer = AudioMixer(MixerSettings(speakers=3))
    for leg in (clean_a, lossy, clean_b):
        mixer.add(leg)
    run(mixer, 100)
    heard = clean_a.heard(80).reshape(80, -1)  # the last 80 frames, one row each
    per_frame_b = [band_db(frame, 8000, 1000.0, width=150) for frame in heard]
    assert min(per_frame_b) > -30, "b's voice dropped out of a's audio in some frame"
