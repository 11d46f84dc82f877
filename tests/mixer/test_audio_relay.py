"""The audio half of a gateway call's pass-through (issue 13): two parties that share
a codec get each other's frames byte for byte; anything of the conference they must
hear (a prompt, a mute, tones listened for), a codec that differs or a third party
puts the mixer back."""

from __future__ import annotations

import numpy as np

from gateway.media import EncodedAudio
from mcu.mixer.audio import AudioMixer, opus_duration_ms
from mcu.mixer.codecs import make_encoder
from tests.mixer.fakes import G722, OPUS, PCMA, PCMU, FakeLeg, band_db


class Recording(FakeLeg):
    """A FakeLeg that remembers the payloads it sent."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.payloads: list[bytes] = []

    def read_audio(self) -> EncodedAudio | None:
        frame = super().read_audio()
        if frame is not None:
            self.payloads.append(frame.payload)
        return frame


def gateway_call(a: FakeLeg, b: FakeLeg, ticks: int = 10) -> AudioMixer:
    mixer = AudioMixer(relay=True)
    mixer.add(a)
    mixer.add(b)
    for _ in range(ticks):
        mixer.tick()
    return mixer


def test_two_parties_of_one_codec_get_each_others_frames_untouched() -> None:
    a, b = Recording("a", PCMU, 440.0), Recording("b", PCMU, 1000.0)
    mixer = gateway_call(a, b)
    assert [f.payload for f in b.received] == a.payloads
    assert [f.payload for f in a.received] == b.payloads
    assert mixer.relayed == 20 and mixer.encoders <= 1  # at most a silence encoder


def test_opus_and_g722_pass_through_too() -> None:
    for fmt in (OPUS, G722):
        a, b = Recording("a", fmt, 440.0), Recording("b", fmt, 1000.0)
        gateway_call(a, b, 5)
        assert [f.payload for f in b.received] == a.payloads


def test_a_missing_frame_is_silence_and_the_receivers_clock_runs_on() -> None:
    a, b = Recording("a", PCMA, None), Recording("b", PCMA, 1000.0)  # a sends nothing
    mixer = gateway_call(a, b, 5)
    assert len(b.received) == 5 and mixer.relayed == 5
    assert band_db(b.heard(), 8000, 440.0) < -80


def test_codecs_that_differ_are_transcoded() -> None:
    a, b = Recording("a", PCMU, 440.0), Recording("b", PCMA, 1000.0)
    mixer = gateway_call(a, b, 25)
    assert mixer.relayed == 0
    assert band_db(b.heard(last=20), 8000, 440.0) > -40  # b hears a, through the mix


def test_a_prompt_a_mute_or_tone_detection_brings_the_mixer_back() -> None:
    for control in ("isolate", "mute_in", "mute_out", "detect_tones"):
        a, b = Recording("a", PCMU, 440.0), Recording("b", PCMU, 1000.0)
        mixer = AudioMixer(relay=True)
        mixer.add(a)
        mixer.add(b)
        if control == "isolate":
            mixer.isolate("a", None)
            mixer.isolate("a", _Silence())
        elif control == "mute_in":
            mixer.set_mute_in("a", True)
        elif control == "mute_out":
            mixer.set_mute_out("b", True)
        else:
            mixer.detect_tones("a", True)
        for _ in range(5):
            mixer.tick()
        assert mixer.relayed == 0, control


def test_a_third_party_brings_the_mixer_back_and_leaving_it_ends_clean() -> None:
    a, b, c = Recording("a", PCMU, 440.0), Recording("b", PCMU, 1000.0), FakeLeg("c", PCMU, 2000.0)
    mixer = gateway_call(a, b, 3)
    mixer.add(c)
    for _ in range(25):
        mixer.tick()
    assert mixer.relayed == 6
    assert band_db(b.heard(last=20), 8000, 2000.0) > -40  # mixed: c is heard
    mixer.remove("c")
    before = len(b.received)
    for _ in range(3):
        mixer.tick()
    assert [f.payload for f in b.received[before:]] == a.payloads[-3:]


def test_a_mixer_that_is_no_gateway_call_never_passes_through() -> None:
    a, b = Recording("a", PCMU, 440.0), Recording("b", PCMU, 1000.0)
    mixer = AudioMixer()
    mixer.add(a)
    mixer.add(b)
    for _ in range(5):
        mixer.tick()
    assert mixer.relayed == 0


def test_opus_packets_that_are_not_20_ms_are_mixed() -> None:
    encoder = make_encoder(OPUS)
    twenty = encoder.encode(np.zeros(960, np.int16))
    assert opus_duration_ms(twenty) == 20
    assert opus_duration_ms(bytes([(3 << 3) | 0])) == 60  # SILK 60 ms, one frame
    assert opus_duration_ms(bytes([(15 << 3) | 1])) == 40  # hybrid 20 ms, two frames
    assert opus_duration_ms(bytes([(31 << 3) | 3, 4])) == 80  # CELT 20 ms, four frames
    assert opus_duration_ms(b"") == 0


class _Silence:
    def next_frame(self) -> None:
        return None
