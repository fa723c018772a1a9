"""Log-mel features: the filterbank, centring clips in the window, and the spectrogram."""

from __future__ import annotations

import numpy as np
import pytest
from emma_lab.datasets.audio import (
    LogMelConfig,
    fit_length,
    hz_to_mel,
    log_mel_spectrogram,
    mel_filterbank,
    mel_to_hz,
)

from emma_plugins.core.errors import DataError


def sine(hz: float, samples: int = 8000, rate: int = 8000) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(samples) / rate).astype(np.float32)


def test_mel_scale_round_trips() -> None:
    hz = np.array([0.0, 100.0, 1000.0, 4000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz)
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=1.0)  # HTK: 1 kHz ~ 1000 mel


def test_filterbank_triangles_rise_in_frequency() -> None:
    bank = mel_filterbank(32, 500, 8000)
    assert bank.shape == (32, 251)
    assert (bank >= 0).all() and np.allclose(bank.max(axis=1), 1.0, atol=0.2)
    assert (np.diff(bank.argmax(axis=1)) >= 0).all()
    widths = (bank > 0).sum(axis=1)
    assert widths[-1] > widths[0]  # higher bands are wider in Hz
    assert (bank.sum(axis=0)[1:-1] > 0).all()  # every inner bin feeds some band


def test_narrow_bands_still_see_a_bin() -> None:
    bank = mel_filterbank(60, 64, 8000)  # bands narrower than the 125 Hz bins
    assert (bank.max(axis=1) > 0).all()


def test_fit_length_centres_crops_and_pads() -> None:
    short, long = np.ones(4, dtype=np.float32), np.arange(12, dtype=np.float32)
    out = fit_length([short, long], 8)
    assert out.shape == (2, 8) and out.dtype == np.float32
    assert out[0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert out[1].tolist() == list(range(2, 10))


def test_spectrogram_shape_and_a_tone_lands_in_its_band() -> None:
    config = LogMelConfig()
    waves = np.stack([sine(300.0), sine(1000.0), sine(3000.0), np.zeros(8000, np.float32)])
    spec = log_mel_spectrogram(waves, config)
    assert spec.shape == (4, 32, 32) and spec.dtype == np.float32 and np.isfinite(spec).all()
    peaks = spec[:3].mean(axis=1).argmax(axis=1)
    assert peaks[0] < peaks[1] < peaks[2]
    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(4000.0), 34))[1:-1]
    assert np.abs(centres[peaks] - [300, 1000, 3000]).max() < 150
    assert np.allclose(spec[3], np.log(config.floor))  # silence sits at the floor


def test_frames_follow_the_sound_in_time() -> None:
    wave = np.zeros(8000, dtype=np.float32)
    wave[6000:] = sine(1000.0, 2000)
    spec = log_mel_spectrogram(wave[None], LogMelConfig(n_frames=16, n_mels=20))[0]
    loud = spec.max(axis=1) > np.log(1e-6)
    assert spec.shape == (16, 20)
    assert not loud[:11].any() and loud[13:].all()  # hop 500: sound from frame 12 on


def test_batch_independent() -> None:
    rng = np.random.default_rng(0)
    waves = rng.normal(size=(5, 8000)).astype(np.float32)
    together = log_mel_spectrogram(waves)
    alone = np.concatenate([log_mel_spectrogram(w[None]) for w in waves])
    assert np.allclose(together, alone, atol=1e-5)


def test_bad_input_is_explained() -> None:
    with pytest.raises(DataError, match=r"shaped \(N, 8000\).*fit_length"):
        log_mel_spectrogram(np.zeros((2, 100)))
    with pytest.raises(DataError, match="n_frames must lie in"):
        LogMelConfig(n_frames=0)
    with pytest.raises(DataError, match="fmin < fmax"):
        LogMelConfig(fmin=5000.0)
    with pytest.raises(DataError, match="n_mels must lie in"):
        LogMelConfig(n_frames=2000, n_mels=32)
