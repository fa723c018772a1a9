"""Registers the built-in data sets: scikit-learn's bundled breast-cancer data (no download),
``table``, the practitioner's own table file, and ``image_folder`` and ``audio_folder``,
folders of image or WAV files named by an index file."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.sources.breast_cancer import load_breast_cancer
from emma_plugins.sources.folders import (
    AudioFolderParams,
    ImageFolderParams,
    load_audio_folder,
    load_image_folder,
)
from emma_plugins.sources.table import TableParams, load_table


@hookimpl
def register_datasets(register: Register) -> None:
    register("breast_cancer", load_breast_cancer)
    register("table", load_table, TableParams)
    register("image_folder", load_image_folder, ImageFolderParams)
    register("audio_folder", load_audio_folder, AudioFolderParams)
