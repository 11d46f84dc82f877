"""Spoken prompts for endpoint entry (PIN lobby, auto attendant, waiting rooms).

The WAVs beside this file are mono 16 kHz signed 16-bit, generated once by
``scripts/make-prompts.sh`` (espeak-ng + ffmpeg) and committed: nothing here needs a
network or a speech synthesiser at run time. File name = prompt name.

``load_prompt`` gives a prompt as int16 PCM at the mixer's rate (48 kHz), upsampled once
with the mixer's own polyphase ``Upsampler`` and cached. ``PromptPlayer`` is the sans-IO
cursor a leg's audio path pulls one 20 ms frame from per mixer tick.
"""

from __future__ import annotations

import wave
from functools import lru_cache
from importlib import resources

import numpy as np

from gateway.media import FRAME_MS, INTERNAL_RATE
from mcu.mixer.resample import Upsampler

PROMPTS: frozenset[str] = frozenset(
    {
        "enter_pin",
        "wrong_pin",
        "enter_conference_id",
        "unknown_conference",
        "waiting_for_chair",
        "locked",
        "goodbye",
        "joining",
        "conference_ended",
        "timeout",
        "waiting_for_admission",
    }
)
"""Every prompt shipped in this package."""

FRAME_SAMPLES = INTERNAL_RATE * FRAME_MS // 1000
"""Samples per frame ``PromptPlayer.next_frame`` returns (960: 20 ms at 48 kHz)."""

LOOP_PAUSE_MS = 2000
"""Silence before a looping sequence starts over."""


def _samples(ms: int) -> int:
    return INTERNAL_RATE * ms // 1000


@lru_cache(maxsize=len(PROMPTS))
def load_prompt(name: str) -> np.ndarray:
    """The prompt ``name`` as read-only int16 mono PCM at 48 kHz; KeyError if unknown."""
    if name not in PROMPTS:
        raise KeyError(f"unknown prompt {name!r}")
    with resources.files(__name__).joinpath(f"{name}.wav").open("rb") as f, wave.open(f) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"prompt {name!r} is not mono 16-bit PCM")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    out = _upsample(pcm, rate)
    out.flags.writeable = False
    return out


def _upsample(pcm: np.ndarray, rate: int) -> np.ndarray:
    """``rate`` -> 48 kHz through the mixer's resampler, its filter delay taken out."""
    up = Upsampler(rate)
    if up.ratio == 1:
        return pcm.copy()
    # Feed 20 ms blocks (the mixer's block size, so its cached gather index is reused),
    # then enough zeros to flush the filter's delay of half its length.
    block = rate * FRAME_MS // 1000
    delay = (up.phases.size - 1) // 2  # output samples
    padded = np.zeros(-(-(pcm.size + up.phases.shape[0]) // block) * block, np.int16)
    padded[: pcm.size] = pcm
    out = np.concatenate([up.process(chunk) for chunk in padded.reshape(-1, block)])
    return out[delay : delay + pcm.size * up.ratio]


@lru_cache(maxsize=64)
def _sequence(names: tuple[str, ...], gap_ms: int, loop: bool) -> np.ndarray:
    """One play() sequence as a single read-only buffer, shared by every player."""
    gap = np.zeros(_samples(gap_ms), np.int16)
    parts: list[np.ndarray] = []
    for i, name in enumerate(names):
        if i:
            parts.append(gap)
        parts.append(load_prompt(name))
    if loop:
        parts.append(np.zeros(_samples(LOOP_PAUSE_MS), np.int16))
    out = np.concatenate(parts)
    out.flags.writeable = False
    return out


class PromptPlayer:
    """Plays a sequence of prompts as 20 ms frames, pulled once per mixer tick.

    Sans-IO and single-threaded: ``play`` sets what to say, ``next_frame`` hands out the
    next 960 samples (or None when silent), ``stop`` cuts it short. ``finished()`` tells a
    caller (the PIN lobby) that a non-looping sequence has been played out completely.
    """

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None
        self._pos = 0
        self._loop = False
        self._finished = False

    def play(self, *names: str, loop: bool = False, gap_ms: int = 300) -> None:
        """Replace whatever is playing with ``names`` in order, ``gap_ms`` of silence between.

        With ``loop`` the sequence starts over after a 2 s pause until ``stop``/``play``.
        Unknown names raise KeyError (and leave the player as it was).
        """
        if not names:
            raise ValueError("play() needs at least one prompt")
        if gap_ms < 0:
            raise ValueError(f"gap_ms must be >= 0, not {gap_ms}")
        buf = _sequence(tuple(names), gap_ms, loop)
        self._buf, self._pos, self._loop, self._finished = buf, 0, loop, False

    def stop(self) -> None:
        """Silence at once; not "finished" (nothing was played out)."""
        self._buf, self._pos, self._loop, self._finished = None, 0, False, False

    @property
    def playing(self) -> bool:
        return self._buf is not None

    def finished(self) -> bool:
        """True once a non-looping sequence has played out, until the next ``play``."""
        return self._finished

    def next_frame(self) -> np.ndarray | None:
        """The next 20 ms (960 int16 samples, a fresh array), or None when nothing plays."""
        buf = self._buf
        if buf is None:
            return None
        end = self._pos + FRAME_SAMPLES
        if end <= buf.size:
            frame = buf[self._pos : end].copy()
            self._pos = end
        else:
            frame = np.zeros(FRAME_SAMPLES, np.int16)
            head = buf.size - self._pos
            frame[:head] = buf[self._pos :]
            if self._loop:
                # Wrap into the next round (a sequence is always longer than a frame).
                self._pos = FRAME_SAMPLES - head
                frame[head:] = buf[: self._pos]
            else:
                self._pos = buf.size
        if not self._loop and self._pos >= buf.size:
            self._buf, self._pos, self._finished = None, 0, True
        return frame
