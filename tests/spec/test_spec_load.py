"""Reading spec files: every example validates, and a corpus of broken specs fails precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import load_spec, parse_spec, read_spec_file

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "spec" / "files" / "valid"
INVALID = ROOT / "tests" / "spec" / "files" / "invalid"

#: file -> (location of the single problem, fragment of its message)
EXPECTED: dict[str, tuple[str, str]] = {
    "absolute_data_dir.yaml": ("data.data_dir", "absolute data path '/etc' is not allowed"),
    "alias_bomb.yaml": ("", "the spec holds more than 100000 values"),
    "binary_two_outputs.yaml": ("out_features", "'breast_cancer' is a binary task"),
    "bad_apply_to.json": ("attention.apply_to", "'inputs' or 'encodings' (got 'outputs')"),
    "bad_indentation.yaml": ("", "not valid YAML: line 4, column 4"),
    "bad_mode_name.yaml": ("modes[0].name", "must start with a letter"),
    "bad_syntax.toml": ("", "not valid TOML"),
    "columns_and_field.yaml": ("modes[0].field", "either columns or field"),
    "columns_width_mismatch.toml": ("modes[1].columns", "3 columns do not fill shape [4]"),
    "dotted_network_kind.yaml": ("network", "'mypkg.module.Class' looks like a Python import"),
    "dropout_one.json": ("network.dropout", "less than 1 (got 1.0)"),
    "duplicate_key.yaml": ("", "duplicate key 'network'"),
    "duplicate_mode_names.yaml": ("modes[1].name", "'ip' is already used by modes[0]"),
    "empty.yaml": ("", "the spec file is empty"),
    "encodings_without_encoder.yaml": ("attention.apply_to", "'mlp' has no per-mode encodings"),
    "endogenous_on_encodings.yaml": ("attention.endogenous", "needs apply_to: inputs"),
    "escaping_data_dir.toml": ("data.data_dir", "leaves the data directory through '..'"),
    "hidden_wrong_type.yaml": ("modes[0].estimator.hidden", "valid integer"),
    "huge_seed.yaml": ("training.seed", "less than 4294967296 (got 4294967296)"),
    "inf_sigma.toml": ("modes[0].estimator.sigma", "should be a finite number (got inf)"),
    "infinite_lr.yaml": ("training.lr", "should be a finite number (got inf)"),
    "hidden_zero.yaml": ("modes[0].estimator.hidden", "greater than or equal to 1 (got 0)"),
    "mode_name_with_newline.json": ("modes[0].name", "'ip\\n' must start with a letter"),
    "mha_heads_do_not_divide.json": ("attention.cross_modal", "heads (3) must divide dim (16)"),
    "missing_kind.yaml": ("modes[0].estimator", "missing 'kind': name a registered estimator"),
    "missing_version.yaml": ("spec_version", "required field is missing"),
    "misspelt_batch_size.json": ("modes[0].estimator.batchsize", "Did you mean 'batch_size'?"),
    "misspelt_param.yaml": ("modes[1].estimator.hiden", "Did you mean 'hidden'?"),
    "misspelt_section.yaml": ("netwrok", "unknown key 'netwrok'. Did you mean 'network'?"),
    "negative_coldness.yaml": ("attention.importance.rho", "should be greater than"),
    "negative_noise.json": ("modes[1].estimator.sigma", "greater than or equal to 0"),
    "nan_rho.json": ("attention.importance.rho", "should be a finite number (got nan)"),
    "negative_seed.toml": ("training.seed", "greater than or equal to 0 (got -1)"),
    "network_width_mismatch.yaml": ("network", "in_features is 9 but the modes give 8"),
    "no_mode_size.yaml": ("modes[0]", "size is unknown"),
    "not_a_mapping.yaml": (
        "",
        "expected a mapping of sections (spec_version, modes, ...), found a list",
    ),
    "reads_out_of_range.yaml": ("network", "reads names mode indices [2], but there are 2"),
    "recursive_alias.yaml": ("", "spec files cannot be recursive"),
    "single_mode.toml": ("modes", "at least two modes; got 1 ('ip')"),
    "spec.ini": ("", "unsupported extension '.ini'"),
    "string_enabled.json": ("attention.enabled", "valid boolean"),
    "too_deep.json": ("", "line 1: collections are nested more than 64 levels deep"),
    "too_deep.toml": ("", "line 2: a dotted key: collections are nested more than 64"),
    "too_many_threads.yaml": ("training.threads", "less than or equal to 256 (got 100000)"),
    "trailing_comma.json": ("", "not valid JSON: line 1"),
    "unknown_energy_input.yaml": ("attention.energy_input", "'entropy' is not a score"),
    "unknown_estimator.yaml": (
        "modes[0].estimator",
        "Unknown estimator 'dea'. Did you mean 'dae'?",
    ),
    "unknown_gate.yaml": ("attention.gate", "Did you mean 'shared_tanh'?"),
    "version_2.toml": ("spec_version", "spec_version 2 is not supported"),
    "yaml_in_json.json": ("", "not valid JSON"),
    "zero_outputs.yaml": ("out_features", "greater than or equal to 1 (got 0)"),
}


def test_corpus_is_large_mixed_and_fully_described() -> None:
    files = sorted(p.name for p in INVALID.iterdir())
    assert files == sorted(EXPECTED)
    assert len(files) >= 25
    assert {Path(f).suffix for f in files} >= {".yaml", ".toml", ".json"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_spec_is_reported_where_it_is_wrong(name: str) -> None:
    location, fragment = EXPECTED[name]
    path = INVALID / name
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    error = caught.value
    assert error.source == str(path)
    assert str(path) in str(error)
    assert [issue.location for issue in error.issues] == [location]
    assert fragment in error.issues[0].message
    assert fragment in str(error)


def test_yaml_and_toml_files_are_the_same_spec() -> None:
    from_yaml = load_spec(VALID / "htru2.yaml")
    from_toml = load_spec(VALID / "htru2.toml")
    assert from_yaml.to_dict() == from_toml.to_dict()
    assert from_yaml.mode_names == ("ip", "dm_snr")
    assert from_yaml.modes[0].columns == [0, 1, 2, 3]
    assert from_yaml.modes[1].columns == [4, 5, 6, 7]


def test_json_round_trip_of_a_loaded_spec(tmp_path: Path) -> None:
    import json

    spec = load_spec(VALID / "htru2.yaml")
    path = tmp_path / "htru2.json"
    path.write_text(json.dumps(spec.to_dict()))
    assert load_spec(path).to_dict() == spec.to_dict()


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"spec_version": 1, "spec_version": 1}')
    with pytest.raises(SpecError, match="duplicate key 'spec_version'"):
        read_spec_file(path)


def test_parse_spec_rejects_non_mappings() -> None:
    with pytest.raises(SpecError, match="must be a mapping"):
        parse_spec([1, 2])  # type: ignore[arg-type]


def test_several_problems_are_all_reported() -> None:
    data = {
        "spec_version": 1,
        "modes": [
            {"name": "a", "width": 0, "estimator": {"kind": "dae"}},
            {"name": "b", "width": 2, "estimator": {"kind": "dae", "lr": 0}},
        ],
        "colour": "blue",
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="inline")
    locations = {issue.location for issue in caught.value.issues}
    assert locations == {"modes[0].width", "modes[1].estimator.lr", "colour"}
    assert str(caught.value).startswith("inline: invalid spec (3 problems)")
