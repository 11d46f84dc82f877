"""Shipped audio prompts: every file loads and speaks, the player's frames, and talk-off."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

import mcu.prompts as prompts_module
from gateway.dtmf.inband import InbandDtmfDetector
from gateway.media import FRAME_MS, INTERNAL_RATE, AudioFormat
from mcu.mixer.codecs import make_decoder, make_encoder
from mcu.mixer.resample import Downsampler
from mcu.prompts import LOOP_PAUSE_MS, PROMPTS, PromptPlayer, load_prompt
from tests.dtmf import signals

FRAME = INTERNAL_RATE * FRAME_MS // 1000  # 960
PROMPT_DIR = Path(prompts_module.__file__).parent
NAMES = sorted(PROMPTS)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def samples(ms: int) -> int:
    return INTERNAL_RATE * ms // 1000


def drain(player: PromptPlayer, limit: int = 10_000) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    while (frame := player.next_frame()) is not None:
        frames.append(frame)
        assert len(frames) < limit, "player never ran out"
    return frames


def downsample(x: np.ndarray, rate: int) -> np.ndarray:
    """48 kHz -> rate in 20 ms frames, as the mixer does for a leg."""
    down = Downsampler(rate)
    pad = np.zeros(-(-x.size // FRAME) * FRAME, np.int16)
    pad[: x.size] = x
    return np.concatenate([down.process(f) for f in pad.reshape(-1, FRAME)])


# --- the files -------------------------------------------------------------------------


def test_files_match_the_names() -> None:
    assert {p.stem for p in PROMPT_DIR.glob("*.wav")} == PROMPTS
    assert len(PROMPTS) == 11


@pytest.mark.parametrize("name", NAMES)
def test_wav_format_and_size(name: str) -> None:
    path = PROMPT_DIR / f"{name}.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.getcomptype() == "NONE"
    assert path.stat().st_size < 128 * 1024


def test_total_size_under_1mb() -> None:
    assert sum(p.stat().st_size for p in PROMPT_DIR.glob("*.wav")) < 1_000_000


@pytest.mark.parametrize("name", NAMES)
def test_prompt_loads_and_speaks(name: str) -> None:
    pcm = load_prompt(name)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert 0.3 <= pcm.size / INTERNAL_RATE <= 8.0
    assert rms(pcm) > 500  # speech at a telephone level, not near-silence
    # Trimmed: speech starts and ends within 150 ms of the edges.
    loud = np.flatnonzero(np.abs(pcm) > 300)
    assert loud[0] < samples(150) and pcm.size - loud[-1] < samples(150)
    # The 16 -> 48 kHz upsampling keeps the length exact and does not clip.
    with wave.open(str(PROMPT_DIR / f"{name}.wav"), "rb") as w:
        assert pcm.size == 3 * w.getnframes()
    assert np.abs(pcm.astype(np.int32)).max() < 32000


def test_load_is_cached_and_read_only() -> None:
    a = load_prompt("goodbye")
    assert load_prompt("goodbye") is a
    assert not a.flags.writeable


def test_upsampling_keeps_timing() -> None:
    """The resampler's delay is taken out: the 48 kHz prompt lines up with its 16 kHz file."""
    with wave.open(str(PROMPT_DIR / "joining.wav"), "rb") as w:
        src = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    up = load_prompt("joining").astype(np.float64)
    lags = range(-6, 7)
    scores = [
        float(np.dot(src[10:-10], up[3 * 10 + lag : 3 * (src.size - 10) + lag : 3])) for lag in lags
    ]
    assert list(lags)[int(np.argmax(scores))] in (-1, 0, 1)


def test_unknown_prompt_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no_such_prompt"):
        load_prompt("no_such_prompt")


# --- the player ------------------------------------------------------------------------


def test_idle_player() -> None:
    player = PromptPlayer()
    assert not player.playing and not player.finished()
    assert player.next_frame() is None


def test_single_prompt_frames() -> None:
    player = PromptPlayer()
    player.play("goodbye")
    assert player.playing and not player.finished()
    frames = drain(player)
    assert all(f.dtype == np.int16 and f.shape == (FRAME,) for f in frames)
    pcm = load_prompt("goodbye")
    assert len(frames) == -(-pcm.size // FRAME)
    out = np.concatenate(frames)
    assert np.array_equal(out[: pcm.size], pcm)
    assert not out[pcm.size :].any()  # the last partial frame is zero-padded
    assert player.finished() and not player.playing
    assert player.next_frame() is None and player.finished()


def test_frames_are_fresh_arrays() -> None:
    player = PromptPlayer()
    player.play("goodbye")
    frame = player.next_frame()
    assert frame is not None and frame.flags.writeable
    frame[:] = 0  # the mixer may scale in place; the cached prompt must not change
    assert load_prompt("goodbye")[:FRAME].any()


@pytest.mark.parametrize("gap_ms", [0, 300, 555])
def test_sequence_order_and_gaps(gap_ms: int) -> None:
    names = ("wrong_pin", "goodbye", "timeout")
    player = PromptPlayer()
    player.play(*names, gap_ms=gap_ms)
    out = np.concatenate(drain(player))
    gap = np.zeros(samples(gap_ms), np.int16)
    expect = np.concatenate(
        [load_prompt(names[0]), gap, load_prompt(names[1]), gap, load_prompt(names[2])]
    )
    assert out.size == -(-expect.size // FRAME) * FRAME
    assert np.array_equal(out[: expect.size], expect)
    assert not out[expect.size :].any()
    assert player.finished()


def test_default_gap_is_300_ms() -> None:
    player = PromptPlayer()
    player.play("goodbye", "goodbye")
    out = np.concatenate(drain(player))
    g = load_prompt("goodbye")
    assert np.array_equal(
        out[: 2 * g.size + samples(300)], np.concatenate([g, np.zeros(samples(300), np.int16), g])
    )


def test_same_prompt_twice_is_played_twice() -> None:
    player = PromptPlayer()
    player.play("goodbye", "goodbye", gap_ms=0)
    assert np.concatenate(drain(player)).size >= 2 * load_prompt("goodbye").size


def test_loop_repeats_after_a_2s_pause() -> None:
    player = PromptPlayer()
    player.play("waiting_for_chair", "goodbye", loop=True)
    period = np.concatenate(
        [
            load_prompt("waiting_for_chair"),
            np.zeros(samples(300), np.int16),
            load_prompt("goodbye"),
            np.zeros(samples(LOOP_PAUSE_MS), np.int16),
        ]
    )
    n = -(-3 * period.size // FRAME) + 1
    frames = [player.next_frame() for _ in range(n)]
    assert all(f is not None and f.shape == (FRAME,) for f in frames)
    out = np.concatenate([f for f in frames if f is not None])
    assert np.array_equal(out[: 3 * period.size], np.tile(period, 3))  # seamless wraps
    assert player.playing and not player.finished()
    player.stop()
    assert not player.playing and not player.finished()
    assert player.next_frame() is None


def test_stop_mid_prompt() -> None:
    player = PromptPlayer()
    player.play("enter_pin")
    for _ in range(10):
        assert player.next_frame() is not None
    player.stop()
    assert not player.playing and not player.finished()
    assert player.next_frame() is None


def test_play_replaces_and_resets_finished() -> None:
    player = PromptPlayer()
    player.play("enter_pin")
    player.next_frame()
    player.play("goodbye")  # replaces, from the start
    first = player.next_frame()
    assert first is not None and np.array_equal(first, load_prompt("goodbye")[:FRAME])
    drain(player)
    assert player.finished()
    player.play("joining")
    assert player.playing and not player.finished()


def test_play_rejects_bad_arguments_and_keeps_state() -> None:
    player = PromptPlayer()
    player.play("goodbye")
    with pytest.raises(KeyError, match="nope"):
        player.play("joining", "nope")
    with pytest.raises(ValueError):
        player.play()
    with pytest.raises(ValueError):
        player.play("goodbye", gap_ms=-1)
    first = player.next_frame()
    assert first is not None and np.array_equal(first, load_prompt("goodbye")[:FRAME])


# --- over the wire ---------------------------------------------------------------------


def inband_digits(pcm: np.ndarray, rate: int) -> str:
    det = InbandDtmfDetector(rate)
    n = rate * FRAME_MS // 1000
    events = []
    for i in range(0, pcm.size - n + 1, n):
        events += det.feed(pcm[i : i + n])
    events += det.flush()
    return "".join(e.digit for e in events)


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("name", NAMES)
def test_no_talk_off(name: str, rate: int) -> None:
    """No prompt, at either gateway rate, looks like a key press to the in-band detector."""
    pcm = downsample(load_prompt(name), rate)
    assert rms(pcm) > 300
    assert inband_digits(pcm, rate) == ""


@pytest.mark.parametrize("rate", [8000, 16000])
def test_talk_off_harness_does_detect(rate: int) -> None:
    """Control: the same path finds a real key press right after a prompt."""
    pcm = downsample(load_prompt("enter_pin"), rate)
    key = signals.to_int16(signals.tone("5", rate, ms=100))
    pcm = np.concatenate([pcm, key, np.zeros(rate // 10, np.int16)])
    assert inband_digits(pcm, rate) == "5"


def test_whole_player_output_has_no_talk_off() -> None:
    """A waiting-room loop as a leg hears it, through the player's frames."""
    player = PromptPlayer()
    player.play(*NAMES, loop=True, gap_ms=300)
    down, det = Downsampler(8000), InbandDtmfDetector(8000)
    events = []
    for _ in range(1500):  # 30 s: more than one round
        frame = player.next_frame()
        assert frame is not None
        events += det.feed(down.process(frame))
    assert events + det.flush() == []


@pytest.mark.parametrize("name", ["enter_pin", "goodbye", "waiting_for_admission"])
def test_survives_g711_ulaw(name: str) -> None:
    fmt = AudioFormat("PCMU", 0, 8000)
    enc, dec = make_encoder(fmt), make_decoder(fmt)
    src = downsample(load_prompt(name), 8000)
    n = fmt.sample_rate * FRAME_MS // 1000
    src = src[: src.size // n * n]
    payloads = [enc.encode(f) for f in src.reshape(-1, n)]
    assert all(len(p) == n for p in payloads)
    out = np.concatenate([dec.decode(p) for p in payloads])
    assert out.dtype == np.int16 and out.size == src.size
    assert abs(rms(out) - rms(src)) / rms(src) < 0.03
    noise = out.astype(np.float64) - src
    assert 20 * np.log10(rms(src) / rms(noise)) > 25  # mu-law: ~35 dB SNR on speech
