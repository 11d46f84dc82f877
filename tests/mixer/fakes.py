"""Fake legs and spectrum helpers for the mixer tests."""

from __future__ import annotations

import numpy as np

from gateway.media import FRAME_MS, AudioFormat, EncodedAudio
from mcu.mixer.codecs import make_decoder, make_encoder, samples_per_frame

PCMU = AudioFormat("PCMU", 0, 8000)
PCMA = AudioFormat("PCMA", 8, 8000)
G722 = AudioFormat("G722", 9, 8000)
OPUS = AudioFormat("opus", 111, 48000, 2)


def tone(freq: float, rate: int, n: int, amplitude: float = 8000.0, start: int = 0) -> np.ndarray:
    t = (np.arange(n) + start) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


class FakeLeg:
    """Sends an encoded sine (or nothing), records every frame it is given."""

    def __init__(
        self,
        leg_id: str,
        fmt: AudioFormat = PCMU,
        freq: float | None = 440.0,
        amplitude: float = 8000.0,
    ) -> None:
        self.id = leg_id
        self.display_name = leg_id
        self.remote = "127.0.0.1:5060"
        self.protocol = "test"
        self.dtmf_events = True  # keys as events: no tone detection
        self.audio_format: AudioFormat | None = fmt
        self.audio_sending = True
        self.freq = freq
        self.amplitude = amplitude
        self.encoder = make_encoder(fmt)
        self.samples = samples_per_frame(fmt.sample_rate)
        self.sent = 0
        self.received: list[EncodedAudio] = []

    def read_audio(self) -> EncodedAudio | None:
        if self.freq is None or self.amplitude == 0:
            return None
        pcm = tone(self.freq, self.audio_format.sample_rate, self.samples, self.amplitude,
                   self.sent * self.samples)  # fmt: skip
        self.sent += 1
        return EncodedAudio(self.encoder.encode(pcm))

    def write_audio(self, frame: EncodedAudio) -> None:
        self.received.append(frame)

    def statistics(self) -> dict[str, object]:
        return {"remote": self.remote, "sent": self.sent, "received": len(self.received)}

    def heard(self, last: int | None = None) -> np.ndarray:
        """Decode what this leg received (a fresh decoder, as the far end would)."""
        dec = make_decoder(self.audio_format)
        pcm = np.concatenate([dec.decode(f.payload) for f in self.received])
        if last is not None:
            pcm = pcm[-last * self.samples :]
        return pcm


def band_db(pcm: np.ndarray, rate: int, freq: float, width: float = 40.0) -> float:
    """Power within ±width Hz of freq, in dB relative to int16 full scale (dBov)."""
    window = np.hanning(pcm.size)
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * window)) ** 2
    bins = np.fft.rfftfreq(pcm.size, 1 / rate)
    band = 2 * spectrum[np.abs(bins - freq) <= width].sum() / (pcm.size * (window**2).sum())
    return float(10 * np.log10(band / 32768.0**2 + 1e-20))


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[int(spectrum.argmax())])


FRAMES_PER_SECOND = 1000 // FRAME_MS
