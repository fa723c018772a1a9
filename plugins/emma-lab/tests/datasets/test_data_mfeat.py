"""Multiple Features: both layouts, the values digest, download from a local server."""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from emma_lab.datasets import mfeat
from emma_lab.datasets.mfeat import load_mfeat, read_mfeat, values_sha256
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_http import closed_port_url, serve
from shared_data import shared_data_dir

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


def test_wrong_row_count_is_reported(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    small["zer"] = small["zer"][:29]
    write_original(tmp_path, small)
    with pytest.raises(DataError, match=r"mfeat-zer has shape \(29, 47\), expected \(30, 47\)"):
        read_mfeat(tmp_path)


def test_disagreeing_labels_are_reported(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS)
    write_csv(tmp_path, small, labels)
    write_csv(tmp_path, {"kar": small["kar"]}, labels[::-1])
    with pytest.raises(DataError, match="label column of mfeat-kar"):
        read_mfeat(tmp_path)


@pytest.mark.parametrize("layout", ["original", "csv"])
@pytest.mark.parametrize("change", [1, -1])
def test_a_view_with_another_column_count_is_refused(
    tmp_path: Path, small: dict[str, np.ndarray], layout: str, change: int
) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS)
    wide = np.column_stack([small["kar"], small["kar"][:, :1]])
    small["kar"] = wide if change > 0 else small["kar"][:, :-1]
    if layout == "csv":
        write_csv(tmp_path, small, labels)
        found, where = 64 + change + 1, r"mfeat-kar\.csv, line 1 \(the header\): found"
        expected = "expected 65 (kar_0, kar_1, kar_2, ..., kar_63, class)"
    else:
        write_original(tmp_path, small)
        found, where = 64 + change, r"mfeat-kar, line 1: found"
        expected = "expected 64 (kar_0, kar_1, kar_2, ..., kar_62, kar_63)"
    with pytest.raises(DataError, match=rf"{where} {found} \w+, {re.escape(expected)}"):
        read_mfeat(tmp_path)


def test_a_csv_copy_without_its_header_is_refused(
    tmp_path: Path, small: dict[str, np.ndarray]
) -> None:
    """Read with ``header=0`` it used to lose its first digit silently."""
    labels = np.repeat(np.arange(10), PER_CLASS)
    write_csv(tmp_path, small, labels)
    path = tmp_path / "mfeat-mor.csv"
    path.write_text(path.read_text().split("\n", 1)[1])
    with pytest.raises(DataError, match=r"mfeat-mor\.csv, line 1 \(the header\): column 1 is"):
        read_mfeat(tmp_path)


def test_a_bom_costs_no_row(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS)
    write_csv(tmp_path / "csv", small, labels)
    write_original(tmp_path / "orig", small)
    for path in [tmp_path / "csv" / "mfeat-fou.csv", tmp_path / "orig" / "mfeat-fou"]:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    a, b = read_mfeat(tmp_path / "orig"), read_mfeat(tmp_path / "csv")
    assert len(a) == len(b) == 30
    assert np.array_equal(a.mode_arrays(["fou"])[0], small["fou"].astype(np.float32))
    assert a.features.equals(b.features)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    view=st.sampled_from(list(mfeat.VIEWS)),
    cell=st.sampled_from(["nan", "-inf", "x", "1e999"]),
    layout=st.sampled_from(["original", "csv"]),
    data=st.data(),
)
def test_a_bad_cell_names_file_line_and_column(
    tmp_path: Path,
    small: dict[str, np.ndarray],
    view: str,
    cell: str,
    layout: str,
    data: st.DataObject,
) -> None:
    row = data.draw(st.integers(0, PER_CLASS * 10 - 1), label="row")
    column = data.draw(st.integers(0, mfeat.VIEWS[view] - 1), label="column")
    folder = tmp_path / layout
    labels = np.repeat(np.arange(10), PER_CLASS)
    if layout == "csv":
        write_csv(folder, small, labels)
    else:
        write_original(folder, small)
    name = f"mfeat-{view}.csv" if layout == "csv" else f"mfeat-{view}"
    lines = (folder / name).read_text().split("\n")
    line = row + (1 if layout == "csv" else 0)
    sep = "," if layout == "csv" else "  "
    fields = lines[line].split(sep)
    fields[column] = cell
    lines[line] = sep.join(fields)
    (folder / name).write_text("\n".join(lines))
    where = f"{folder / name}, line {line + 1}, column {column + 1} ({view}_{column}): "
    with pytest.raises(DataError, match=re.escape(where)):
        read_mfeat(folder)


def test_a_bad_label_names_the_line(tmp_path: Path, small: dict[str, np.ndarray]) -> None:
    labels = np.repeat(np.arange(10), PER_CLASS).astype(float)
    labels[7] = 10
    write_csv(tmp_path, small, labels)
    message = r"mfeat-fou\.csv, line 9, column 77 \(class\): 10; the last column must be"
    with pytest.raises(DataError, match=message):
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
