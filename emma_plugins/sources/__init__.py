"""Data sources: the multi-modal data container, splits, scaling, the bundled data set, the
``table`` kind that reads a practitioner's own table, and the ``image_folder`` and
``audio_folder`` kinds that read folders of files (lazily, through `FolderDataset`)."""

from emma_plugins.sources.breast_cancer import load_breast_cancer
from emma_plugins.sources.catalog import load_dataset
from emma_plugins.sources.container import SPLIT_NAMES, MultiModalData, Task
from emma_plugins.sources.folders import (
    AudioFolderParams,
    FolderDataset,
    ImageFolderParams,
    audio_folder_dataset,
    image_folder_dataset,
    load_audio_folder,
    load_image_folder,
)
from emma_plugins.sources.paths import DATA_DIR_ENV, resolve_data_dir, user_cache_dir
from emma_plugins.sources.splits import (
    DataWarning,
    Splits,
    Standardizer,
    carve_validation,
    check_split,
    predefined_indices,
    split,
    stratified_indices,
)
from emma_plugins.sources.table import TableParams, load_table

__all__ = [
    "DATA_DIR_ENV",
    "SPLIT_NAMES",
    "AudioFolderParams",
    "DataWarning",
    "FolderDataset",
    "ImageFolderParams",
    "MultiModalData",
    "Splits",
    "Standardizer",
    "TableParams",
    "Task",
    "audio_folder_dataset",
    "carve_validation",
    "check_split",
    "image_folder_dataset",
    "load_audio_folder",
    "load_breast_cancer",
    "load_dataset",
    "load_image_folder",
    "load_table",
    "predefined_indices",
    "resolve_data_dir",
    "split",
    "stratified_indices",
    "user_cache_dir",
]
