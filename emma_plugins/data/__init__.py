"""Data sets: loaders (local directory or checksum-verified download), splits and scaling."""

from .audio import LogMelConfig, log_mel_spectrogram, mel_filterbank
from .av_digits import load_av_digits
from .breast_cancer import load_breast_cancer
from .catalog import load_dataset
from .container import SPLIT_NAMES, MultiModalData, Task
from .fsdd import load_fsdd
from .htru2 import load_htru2
from .mfeat import load_mfeat
from .paths import DATA_DIR_ENV, resolve_data_dir, user_cache_dir
from .point_sets import load_circle, load_wave
from .splits import (
    Splits,
    Standardizer,
    carve_validation,
    predefined_indices,
    split,
    stratified_indices,
)

__all__ = [
    "DATA_DIR_ENV",
    "SPLIT_NAMES",
    "LogMelConfig",
    "MultiModalData",
    "Splits",
    "Standardizer",
    "Task",
    "carve_validation",
    "load_av_digits",
    "load_breast_cancer",
    "load_circle",
    "load_dataset",
    "load_fsdd",
    "load_htru2",
    "load_mfeat",
    "load_wave",
    "log_mel_spectrogram",
    "mel_filterbank",
    "predefined_indices",
    "resolve_data_dir",
    "split",
    "stratified_indices",
    "user_cache_dir",
]
