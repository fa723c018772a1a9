"""Log-mel spectrograms of short clips, computed with `scipy.signal` and a mel filterbank.

Spoken digits last about half a second, so each clip is centred in a fixed window (about
1 s) by cropping or zero-padding both ends equally, then turned into a small ``(T, F)``
image: ``T`` STFT frames (hop ``window / T``, Hann window of two hops) and ``F`` mel bands
of the power spectrum, on a log scale. Everything after the fitting step is one vectorised
pass over a ``(N, samples)`` array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emma_plugins.core.errors import DataError

#: Clips per STFT call: bounds the complex spectrogram's memory (~70 MB at the defaults).
CHUNK = 512


@dataclass(frozen=True)
class LogMelConfig:
    """How clips become ``(n_frames, n_mels)`` log-mel spectrograms.

    :param sample_rate: of the clips, in Hz.
    :param clip_samples: window every clip is cropped or padded to (8000 = 1 s at 8 kHz).
    :param n_frames: STFT frames ``T``; the hop is ``clip_samples // n_frames``.
    :param n_mels: mel bands ``F``, spread evenly on the mel scale over ``[fmin, fmax]``.
    :param fmin: lowest band edge in Hz.
    :param fmax: highest band edge in Hz (default: the Nyquist frequency).
    :param floor: added to the mel power before the log, so silence (zero padding) stays
        finite.
    """

    sample_rate: int = 8000
    clip_samples: int = 8000
    n_frames: int = 32
    n_mels: int = 32
    fmin: float = 0.0
    fmax: float | None = None
    floor: float = 1e-10

    def __post_init__(self) -> None:
        top = self.sample_rate / 2 if self.fmax is None else self.fmax
        if self.sample_rate <= 0 or self.clip_samples <= 0:
            raise DataError("LogMelConfig: sample_rate and clip_samples must be positive.")
        if not 1 <= self.n_frames <= self.clip_samples // 2:
            raise DataError(
                f"LogMelConfig: n_frames must lie in 1..{self.clip_samples // 2} (two samples "
                f"per hop at least), got {self.n_frames}."
            )
        if not 0.0 <= self.fmin < top <= self.sample_rate / 2:
            raise DataError(
                f"LogMelConfig: need 0 <= fmin < fmax <= {self.sample_rate / 2} Hz, got "
                f"fmin={self.fmin}, fmax={top}."
            )
        if self.n_mels < 1 or self.n_mels + 2 > self.n_fft // 2 + 1:
            raise DataError(
                f"LogMelConfig: n_mels must lie in 1..{self.n_fft // 2 - 1} for "
                f"{self.n_fft}-sample frames, got {self.n_mels}."
            )

    @property
    def hop(self) -> int:
        return self.clip_samples // self.n_frames

    @property
    def n_fft(self) -> int:
        """Window length in samples: two hops, so consecutive Hann windows overlap by half."""
        return 2 * self.hop

    @property
    def shape(self) -> tuple[int, int]:
        """Per-clip output shape ``(T, F)``."""
        return (self.n_frames, self.n_mels)


def hz_to_mel(hz: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """The HTK mel scale, ``2595 log10(1 + f / 700)``."""
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0))


def mel_to_hz(mel: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.asarray(700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0))


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None
) -> NDArray[np.float64]:
    """Triangular filters ``(n_mels, n_fft // 2 + 1)`` on the rfft bins, peak 1 each.

    Band ``m`` rises from edge ``m`` to its centre ``m + 1`` and falls to edge ``m + 2``, the
    ``n_mels + 2`` edges evenly spaced in mel. The triangles are evaluated at the bin
    frequencies, so a band narrower than a bin still weighs its nearest bins.
    """
    top = sample_rate / 2 if fmax is None else fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(top), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - low) / (centre - low)
    falling = (high - bins) / (high - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    # A band so narrow that no bin falls inside it takes the bin nearest its centre.
    empty = weights.max(axis=1) == 0.0
    nearest = np.abs(bins[None, :] - centre).argmin(axis=1)
    weights[empty, nearest[empty]] = 1.0
    return weights


def fit_length(clips: Sequence[NDArray[np.floating]], samples: int) -> NDArray[np.float32]:
    """Centre each clip in a window of ``samples``: crop or zero-pad both ends equally."""
    out = np.zeros((len(clips), samples), dtype=np.float32)
    for row, clip in enumerate(clips):
        clip = np.asarray(clip, dtype=np.float32).reshape(-1)
        if len(clip) >= samples:
            start = (len(clip) - samples) // 2
            out[row] = clip[start : start + samples]
        else:
            start = (samples - len(clip)) // 2
            out[row, start : start + len(clip)] = clip
    return out


def log_mel_spectrogram(
    waveforms: NDArray[np.floating], config: LogMelConfig | None = None
) -> NDArray[np.float32]:
    """``(N, clip_samples)`` waveforms to ``(N, n_frames, n_mels)`` log mel power.

    Frame ``t`` is centred on sample ``hop * (t + 1/2)``: the clip is zero-padded by
    half a hop at each end before a boundary-free STFT, so exactly ``n_frames`` frames
    cover the clip.
    """
    config = config or LogMelConfig()
    waves = np.asarray(waveforms, dtype=np.float32)
    if waves.ndim != 2 or waves.shape[1] != config.clip_samples:
        raise DataError(
            f"log_mel_spectrogram needs waveforms shaped (N, {config.clip_samples}), got "
            f"{waves.shape}; fit clips to the window with fit_length first."
        )
    pad_left = (config.n_fft - config.hop) // 2
    pad_right = config.n_fft - config.hop - pad_left
    filters = mel_filterbank(
        config.n_mels, config.n_fft, config.sample_rate, config.fmin, config.fmax
    ).astype(np.float32)
    from scipy import signal  # on first use: scipy.signal takes a second to import

    out = np.empty((len(waves), *config.shape), dtype=np.float32)
    for start in range(0, len(waves), CHUNK):
        chunk = np.pad(waves[start : start + CHUNK], ((0, 0), (pad_left, pad_right)))
        _, _, spectrum = signal.stft(
            chunk,
            fs=config.sample_rate,
            window="hann",
            nperseg=config.n_fft,
            noverlap=config.n_fft - config.hop,
            boundary=None,
            padded=False,
            axis=-1,
        )
        power = spectrum.real**2 + spectrum.imag**2  # (n, bins, T)
        mel = np.einsum("mb,nbt->ntm", filters, power[..., : config.n_frames])
        out[start : start + CHUNK] = np.log(mel + config.floor)
    return out
