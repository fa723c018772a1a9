"""Multiple Features: both layouts, the values digest, download from a local server."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from local_http import closed_port_url, serve
from shared_data import shared_data_dir

from emma_lab.datasets import mfeat
from emma_lab.datasets.mfeat import load_mfeat, read_mfeat, values_sha256
from emma_plugins.core.errors import DataError

PER_CLASS = 3  # synthetic data: 30 rows instead of 2,000


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Synthetic views of 30 rows (3 per class) at the real widths."""
    monkeypatch.setattr(mfeat, "PER_CLASS", PER_CLASS)
    rng = np.random.default_rng(0)
    n = PER_CLASS * mfeat.N_CLASSES
    return {v: rng.integers(0, 50, size=(n, w)) / 4 for v, w in mfeat.VIEWS.items()}


def write_original(folder: Path, views: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for view, matrix in views.items():
        lines = ["  ".join(f"{x:.7e}" for x in row) for row in matrix]
        (folder / f"mfeat-{view}").write_text("\n".join(lines) + "\n")


def write_csv(folder: Path, views: dict[str, np.ndarray], labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for view, matrix in views.items():
        table = pd.DataFrame(np.column_stack([matrix, labels]))
        table.to_csv(folder / f"mfeat-{view}.csv", index=False)


def test_both_layouts_agree(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS)
    write_original(tmp_path / "orig", small)
    write_csv(tmp_path / "csv", small, labels)
    a, b = read_mfeat(tmp_path / "orig"), read_mfeat(tmp_path / "csv")
    assert a.features.equals(b.features) and np.array_equal(a.target, b.target)
    assert np.array_equal(a.target, labels)
    assert [len(c) for c in a.modes.values()] == [76, 216, 64, 240, 47, 6]
    assert a.mode_names == ["fou", "fac", "kar", "pix", "zer", "mor"]
    assert a.task == "multiclass" and a.n_classes == 10
    assert np.array_equal(a.mode_arrays(["mor"])[0], small["mor"].astype(np.float32))


def test_wrong_shape_is_reported(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    small["zer"] = small["zer"][:, :40]
    write_original(tmp_path, small)
    with pytest.raises(DataError, match=r"mfeat-zer has shape \(30, 40\), expected \(30, 47\)"):
        read_mfeat(tmp_path)


def test_disagreeing_labels_are_reported(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS)
    write_csv(tmp_path, small, labels)
    write_csv(tmp_path, {"kar": small["kar"]}, labels[::-1])
    with pytest.raises(DataError, match="label column of mfeat-kar"):
        read_mfeat(tmp_path)


def served_zip(site: Path, views: dict[str, np.ndarray]) -> None:
    """The original files inside a tar inside the zip."""
    write_original(site / "files", views)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for view in views:
            tf.add(site / "files" / f"mfeat-{view}", arcname=f"mfeat/mfeat-{view}")
    with zipfile.ZipFile(site / "mfeat.zip", "w") as zf:
        zf.writestr("mfeat.tar", buffer.getvalue())


def test_download_verifies_values(
    tmp_path: Path, small: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    served_zip(tmp_path / "site", small)
    monkeypatch.setattr(mfeat, "VALUES_SHA256", {v: values_sha256(m) for v, m in small.items()})
    with serve(tmp_path / "site") as base:
        data = load_mfeat(tmp_path / "data", url=f"{base}/mfeat.zip", progress=False)
    assert len(data) == 30
    assert np.allclose(data.mode_arrays(["pix"])[0], small["pix"])
    again = load_mfeat(tmp_path / "data", url=closed_port_url())
    assert again.features.equals(data.features)


def test_download_with_wrong_values_keeps_nothing(
    tmp_path: Path, small: dict[str, np.ndarray]
) -> None:
    served_zip(tmp_path / "site", small)
    with serve(tmp_path / "site") as base, pytest.raises(DataError, match="Checksum mismatch"):
        load_mfeat(tmp_path / "data", url=f"{base}/mfeat.zip", progress=False)
    assert list((tmp_path / "data" / "mfeat").iterdir()) == []


def test_no_network_says_how_to_supply(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_mfeat(tmp_path, url=closed_port_url("mfeat.zip"), progress=False)
    assert str(tmp_path / "mfeat") in str(info.value) and "mfeat-fou" in str(info.value)


def test_values_digest_depends_on_values_and_shape() -> None:
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert values_sha256(a) == values_sha256(a.copy())
    assert values_sha256(a) != values_sha256(a.reshape(4, 3))
    b = a.copy()
    b[1, 1] += 1e-12
    assert values_sha256(a) != values_sha256(b)


def test_real_copy_matches_pinned_digests() -> None:
    root = shared_data_dir("mfeat", *(f"mfeat-{v}.csv" for v in mfeat.VIEWS))
    data = load_mfeat(root, download=False)
    assert len(data) == 2_000 and data.class_counts().tolist() == [200] * 10
    for view, array in zip(data.mode_names, data.mode_arrays(), strict=True):
        assert array.shape == (2_000, mfeat.VIEWS[view])
        values = data.features[data.modes[view]].to_numpy(np.float64)
        assert values_sha256(values) == mfeat.VALUES_SHA256[view]
