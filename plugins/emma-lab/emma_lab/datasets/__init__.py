"""The thesis data sets: HTRU2, UCI Multiple Features, FSDD, audio-visual digits and the
2-D manifolds of Experiment I, read from ``EMMA_DATA_DIR`` or downloaded and verified."""

from emma_lab.datasets.audio import LogMelConfig, log_mel_spectrogram, mel_filterbank
from emma_lab.datasets.av_digits import load_av_digits
from emma_lab.datasets.fsdd import load_fsdd
from emma_lab.datasets.htru2 import load_htru2
from emma_lab.datasets.mfeat import load_mfeat
from emma_lab.datasets.point_sets import load_circle, load_wave

__all__ = [
    "LogMelConfig",
    "load_av_digits",
    "load_circle",
    "load_fsdd",
    "load_htru2",
    "load_mfeat",
    "load_wave",
    "log_mel_spectrogram",
    "mel_filterbank",
]
