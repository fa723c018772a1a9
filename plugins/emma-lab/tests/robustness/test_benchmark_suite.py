"""Bench files: the shipped ones validate, bad ones fail naming the field, the short version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _benchmark_samples import BENCH_DIR
from emma_lab.robustness.suite import (
    BENCH_DIR_ENV,
    available_benches,
    load_bench,
    parse_bench,
    resolve_benches,
)

from emma_plugins.core.errors import EmmaError, SpecError


def _raw(name: str = "breast_cancer") -> dict:
    return yaml.safe_load((BENCH_DIR / f"{name}.yaml").read_text())


def test_every_shipped_bench_file_validates_and_names_its_methods() -> None:
    benches = available_benches(BENCH_DIR)
    assert {"htru2", "mfeat", "breast_cancer"} <= set(benches)
    for name, path in benches.items():
        bench = load_bench(path)
        assert bench.name == name
        assert bench.methods[:2] == ["early_fusion", "noise_augmentation"]
        assert {"emma", "emma_no_energy_labels", "late_fusion", "qmf", "tmc"} <= set(bench.methods)
        for peer in bench.peers:
            assert bench.peer_spec(peer).attention.enabled is False
        assert bench.variant_spec("emma_dead_zone").attention.correction.kind == "standardized"


def test_mfeat_bench_has_the_six_views_and_ten_classes() -> None:
    bench = load_bench(BENCH_DIR / "mfeat.yaml")
    spec = bench.emma_spec()
    widths = {m.name: m.size for m in spec.modes}
    assert widths == {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
    assert spec.out_features == 10
    assert bench.protocol.multi_mode is not None and bench.protocol.multi_mode.counts == [2, 3]


def test_a_peer_with_an_unknown_network_kind_fails_naming_the_peer() -> None:
    raw = _raw()
    raw["peers"]["tmc"] = {"kind": "tcm"}
    with pytest.raises(SpecError, match=r"peers\.tmc"):
        parse_bench(raw, source="mine.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"peers": {"emma": {"kind": "late_fusion"}}}, "unique"),
        ({"protocol": {"noise_levels": [0.5, 1.0]}}, "start at 0"),
        ({"protocol": {"multi_mode": {"counts": [3]}}}, "1..2"),
        ({"protocol": {"candidates": ["emma"]}}, "not peers"),
        ({"protocol": {"ood": {"kind": "odd"}}}, "odd"),
        ({"protcol": {}}, "protcol"),
    ],
)
def test_bad_bench_files_fail_with_the_field(change: dict, message: str) -> None:
    raw = _raw()
    for key, value in change.items():
        raw[key] = {**raw.get(key, {}), **value} if key in raw else value
    with pytest.raises((SpecError, EmmaError), match=message):
        parse_bench(raw)


def test_quick_version_caps_every_epoch_count_and_the_seeds() -> None:
    bench = load_bench(BENCH_DIR / "htru2.yaml")
    quick = bench.quick_version()
    spec = quick.emma_spec()
    assert spec.training is not None
    assert spec.training.base_epochs == spec.training.epochs == bench.quick.epochs
    assert all(m.estimator.params()["epochs"] <= bench.quick.epochs for m in spec.modes)
    assert quick.protocol.seeds == bench.quick.seeds
    assert quick.protocol.peer_epochs == 2 * bench.quick.epochs
    assert bench.emma_spec().training.epochs == 30  # type: ignore[union-attr]  # unchanged


def test_resolve_benches_by_name_or_path_and_says_what_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [b.name for b in resolve_benches(None, BENCH_DIR)] == ["htru2", "mfeat"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({**_raw(), "name": "mine"}))
    assert resolve_benches([str(path)])[0].name == "mine"
    monkeypatch.setenv(BENCH_DIR_ENV, str(tmp_path))
    assert list(available_benches()) == ["mine"]
    with pytest.raises(EmmaError, match=r"'av_digits'.*available: mine"):
        resolve_benches(["av_digits"])
