"""The bundled breast-cancer data set: three modes of ten features, malignant = 1."""

from __future__ import annotations

from emma_plugins.sources import load_breast_cancer


def test_modes_widths_and_target() -> None:
    data = load_breast_cancer()
    assert data.mode_names == ["mean", "error", "worst"]
    assert [len(c) for c in data.modes.values()] == [10, 10, 10]
    assert sorted(c for cols in data.modes.values() for c in cols) == sorted(data.features.columns)
    assert data.modes["error"][0] == "radius error" and data.modes["worst"][0] == "worst radius"
    assert len(data) == 569 and data.task == "binary"
    assert data.class_counts().tolist() == [357, 212]  # 212 malignant = positive class
