from __future__ import annotations

import numpy as np
import pytest

from mcu.mixer.resample import Downsampler, Upsampler
from tests.mixer.fakes import band_db, peak_hz, tone


@pytest.mark.parametrize(("rate", "freq"), [(8000, 1000.0), (8000, 3000.0), (16000, 6000.0)])
def test_up_then_down_keeps_a_tone(rate: int, freq: float) -> None:
    n = rate // 50
    up, down = Upsampler(rate), Downsampler(rate)
    x = tone(freq, rate, n * 50, 10000)
    hi = np.concatenate([up.process(x[i : i + n]) for i in range(0, x.size, n)])
    assert hi.size == x.size * 48000 // rate
    assert abs(peak_hz(hi[4800:], 48000) - freq) < 5
    # Frames join cleanly: almost all energy stays in the tone's band (no clicks).
    assert band_db(hi[4800:], 48000, freq) > -20
    images = band_db(hi[4800:], 48000, rate - freq)
    assert images < band_db(hi[4800:], 48000, freq) - 50
    back = np.concatenate([down.process(hi[i : i + 960]) for i in range(0, hi.size, 960)])
    assert back.size == x.size
    assert abs(peak_hz(back[n * 5 :], rate) - freq) < 10
    rms_in = np.sqrt(np.mean(x.astype(float) ** 2))
    rms_out = np.sqrt(np.mean(back[n * 5 :].astype(float) ** 2))
    assert abs(20 * np.log10(rms_out / rms_in)) < 0.5


def test_downsampler_rejects_what_the_low_rate_cannot_carry() -> None:
    down = Downsampler(8000)
    x = tone(6000, 48000, 960 * 20, 10000)  # above 4 kHz: must not alias to 2 kHz
    y = np.concatenate([down.process(x[i : i + 960]) for i in range(0, x.size, 960)])
    assert band_db(y[800:], 8000, 2000) < -70


def test_48k_is_a_passthrough() -> None:
    x = tone(1000, 48000, 960)
    assert np.array_equal(Upsampler(48000).process(x), x)
    assert np.array_equal(Downsampler(48000).process(x), x)


def test_rates_that_do_not_divide_are_refused() -> None:
    with pytest.raises(ValueError):
        Upsampler(44100)
