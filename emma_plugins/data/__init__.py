"""Data sets: loaders (local directory or checksum-verified download), splits and scaling."""

from .breast_cancer import load_breast_cancer
from .catalog import load_dataset
from .container import MultiModalData, Task
from .htru2 import load_htru2
from .mfeat import load_mfeat
from .paths import DATA_DIR_ENV, resolve_data_dir, user_cache_dir
from .point_sets import load_circle, load_wave
from .splits import Splits, Standardizer, split, stratified_indices

__all__ = [
    "DATA_DIR_ENV",
    "MultiModalData",
    "Splits",
    "Standardizer",
    "Task",
    "load_breast_cancer",
    "load_circle",
    "load_dataset",
    "load_htru2",
    "load_mfeat",
    "load_wave",
    "resolve_data_dir",
    "split",
    "stratified_indices",
    "user_cache_dir",
]
