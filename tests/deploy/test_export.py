"""`emma export`: the exported ONNX file and torch.export program compute what
`RawInputModel` computes (clean, with a missing mask, with broken readings, any batch size),
and models that cannot be exported are refused in one line."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emma_plugins import EmmaModel, build
from emma_plugins.cli import main
from emma_plugins.core.errors import NotFittedError
from emma_plugins.deploy import OUTPUTS, RawInputModel
from emma_plugins.deploy import export as export_module
from emma_plugins.deploy.export import (
    ExportError,
    export_model,
    export_onnx,
    export_torch,
    input_names,
)

MODES = ("mean", "error", "worst")
BROKEN = (float("nan"), float("inf"), -float("inf"), 1e30)


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(model_dir: Path) -> EmmaModel:
    return EmmaModel.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def raw(model: EmmaModel) -> RawInputModel:
    return RawInputModel(model).eval()


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def onnx_cli(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """The ONNX file `emma export` writes (traced with a batch of 4), its code and stdout."""
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    code, out, _ = run_cli("export", str(model_dir), "--format", "onnx", "--out", str(path))
    return path, code, out


@pytest.fixture(scope="module")
def session(onnx_cli: tuple[Path, int, str]) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(onnx_cli[0]), providers=["CPUExecutionProvider"])


def readings(model: EmmaModel, n: int, seed: int = 0) -> list[np.ndarray]:
    """Raw float32 readings around the training means, one array per mode."""
    rng = np.random.default_rng(seed)
    assert model.deployment is not None
    modes = []
    for name in MODES:
        info = model.deployment.modes[name]
        noise = rng.standard_normal((n, len(info.columns)))
        modes.append((np.array(info.mean) + np.array(info.std) * noise).astype(np.float32))
    return modes


def eager(raw: RawInputModel, modes: list[np.ndarray], missing: np.ndarray | None) -> list[Any]:
    mask = None if missing is None else torch.from_numpy(missing)
    with torch.no_grad():
        return [t.numpy() for t in raw([torch.from_numpy(x) for x in modes], mask)]


def assert_same(got: list[Any], expected: list[Any]) -> None:
    assert len(got) == len(expected) == len(OUTPUTS)
    for name, a, b in zip(OUTPUTS, got, expected, strict=True):
        a = np.asarray(a)
        assert a.shape == b.shape, name
        if b.dtype == np.bool_:
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def run_onnx(session: Any, modes: list[np.ndarray], missing: np.ndarray | None) -> list[Any]:
    feed = dict(zip(MODES, modes, strict=True))
    if missing is not None:
        feed["missing"] = missing
    result: list[Any] = session.run(None, feed)
    return result


def no_mask(n: int) -> np.ndarray:
    return np.zeros((n, len(MODES)), dtype=bool)


# -- ONNX ------------------------------------------------------------------------------------
def test_the_cli_writes_onnx_and_names_inputs_and_outputs(
    onnx_cli: tuple[Path, int, str], session: Any
) -> None:
    path, code, out = onnx_cli
    assert code == 0 and path.is_file()
    assert f"wrote {path}" in out
    inputs = "inputs:  mean [N, 10] float32, error [N, 10] float32, worst [N, 10] float32, "
    assert inputs + "missing [N, 3] bool\n" in out
    assert "outputs: output [N, 1] float32, probabilities [N, 2] float32" in out
    assert [i.name for i in session.get_inputs()] == [*MODES, "missing"]
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
    assert all(isinstance(i.shape[0], str) for i in session.get_inputs())  # dynamic batch
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left over


@pytest.mark.parametrize("n", [1, 7])  # traced with 4: the batch is dynamic
def test_onnx_matches_eager_on_clean_readings(
    session: Any, model: EmmaModel, raw: RawInputModel, n: int
) -> None:
    modes = readings(model, n)
    assert_same(run_onnx(session, modes, no_mask(n)), eager(raw, modes, no_mask(n)))


def test_onnx_matches_eager_with_missing_modes(
    session: Any, model: EmmaModel, raw: RawInputModel
) -> None:
    modes = readings(model, 7, seed=1)
    missing = no_mask(7)
    missing[0, 1] = missing[2, 0] = missing[3] = True  # row 3: every mode missing
    missing[4, 1:] = True
    modes[1][0] = np.nan  # a missing mode's values are never read
    got = run_onnx(session, modes, missing)
    assert_same(got, eager(raw, modes, missing))
    failed, attention = got[OUTPUTS.index("failed")], got[OUTPUTS.index("attention")]
    assert failed[missing].all() and (attention[missing] == 0).all()


def test_onnx_guards_broken_readings_as_eager_does(
    session: Any, model: EmmaModel, raw: RawInputModel
) -> None:
    n = 2 + len(BROKEN)
    modes = readings(model, n, seed=2)
    for row, value in enumerate(BROKEN, start=1):
        modes[row % 3][row, row % 10] = value
    modes[0][n - 1, :] = 1e30
    modes[2][n - 1, 0] = np.nan  # two broken modes in one row
    got = run_onnx(session, modes, no_mask(n))
    expected = eager(raw, modes, no_mask(n))
    assert_same(got, expected)
    failed = got[OUTPUTS.index("failed")]
    for row in range(1, len(BROKEN) + 1):
        assert failed[row, row % 3]
    assert failed[n - 1, 0] and failed[n - 1, 2] and not failed[0].any()
    for name in ("output", "probabilities", "importance", "attention", "total_energy"):
        assert np.isfinite(got[OUTPUTS.index(name)]).all(), name


def test_the_torchscript_fallback_without_the_missing_input(
    model: EmmaModel, raw: RawInputModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    monkeypatch.setattr(export_module, "_has_dynamo_exporter", lambda: False)
    path = tmp_path / "plain.onnx"
    with pytest.warns(UserWarning, match="TorchScript-based exporter"):
        assert export_onnx(model, path, with_missing=False) == path
    fallback = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in fallback.get_inputs()] == list(MODES)
    assert [o.name for o in fallback.get_outputs()] == list(OUTPUTS)
    modes = readings(model, 5, seed=3)
    modes[1][2, 4] = 1e30
    assert_same(run_onnx(fallback, modes, None), eager(raw, modes, None))


# -- torch.export ----------------------------------------------------------------------------
def test_torch_export_round_trip_matches_eager(
    model_dir: Path, model: EmmaModel, raw: RawInputModel, tmp_path: Path
) -> None:
    directory = Path(shutil.copytree(model_dir, tmp_path / "model"))
    code, out, _ = run_cli("export", str(directory), "--format", "torch")
    assert code == 0, out
    path = directory / "model.pt2"  # the default output
    assert f"wrote {path}" in out
    program = torch.export.load(path).module()
    modes = readings(model, 7, seed=4)
    modes[2][1, 0], modes[0][5, 3] = np.nan, 1e30
    missing = no_mask(7)
    missing[3, 1] = True
    with torch.no_grad():
        got = program(*(torch.from_numpy(x) for x in modes), torch.from_numpy(missing))
    assert_same([t.numpy() for t in got], eager(raw, modes, missing))


def test_export_leaves_the_model_in_its_mode(model: EmmaModel, tmp_path: Path) -> None:
    model.train()
    try:
        export_torch(model, tmp_path / "m.pt2", with_missing=False)
        assert model.training
    finally:
        model.eval()


# -- what cannot export ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def gradient_dir(model: EmmaModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained model with its attention reading the estimators' gradient norm."""
    spec = model.spec
    attention = spec.attention.model_copy(update={"energy_input": "grad_norm"})
    gradient = build(spec.model_copy(update={"attention": attention}))
    gradient.load_state_dict(model.state_dict())
    gradient.deployment = model.deployment
    directory = tmp_path_factory.mktemp("gradient") / "model"
    gradient.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("format", ["onnx", "torch"])
def test_a_gradient_energy_input_is_refused_in_one_line(
    gradient_dir: Path, tmp_path: Path, format: str
) -> None:
    out = tmp_path / "model.out"
    code, stdout, stderr = run_cli(
        "export", str(gradient_dir), "--format", format, "--out", str(out)
    )
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert "'grad_norm'" in stderr and "autograd" in stderr
    assert not out.exists()
    with pytest.raises(ExportError, match="grad_norm"):
        (export_onnx if format == "onnx" else export_torch)(gradient_dir, out)


def test_a_trace_failure_is_an_export_error_with_torchs_reason(
    gradient_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "GRADIENT_SCORES", frozenset())  # let it try
    with pytest.raises(ExportError, match=r"torch\.export could not trace this model") as caught:
        export_torch(gradient_dir, tmp_path / "m.pt2")
    assert "\n" not in str(caught.value) and caught.value.__cause__ is not None
    assert not (tmp_path / "m.pt2").exists()


def test_a_model_without_deployment_record_is_refused(model: EmmaModel, tmp_path: Path) -> None:
    built = build(model.spec)
    built.load_state_dict(model.state_dict())
    built.save_pretrained(tmp_path / "built")
    code, stdout, stderr = run_cli("export", str(tmp_path / "built"))
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and "deployment record" in stderr
    assert not (tmp_path / "built" / "model.onnx").exists()
    with pytest.raises(NotFittedError, match="deployment record"):
        export_torch(built, tmp_path / "m.pt2")


def test_bad_arguments_are_refused(model: EmmaModel, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="is a directory"):
        export_model(model, tmp_path)
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(model, "x.bin", format="tflite")
    with pytest.raises(ExportError, match="output path"):
        export_model(model)
    with pytest.raises(ExportError, match="onnx format only"):
        export_model(model, "m.pt2", format="torch", opset=18)


def test_inputs_named_like_the_mask_or_an_output_are_renamed(model: EmmaModel) -> None:
    spec = model.spec
    modes = [
        m.model_copy(update={"name": name})
        for m, name in zip(spec.modes, ("missing", "attention", "worst"), strict=True)
    ]
    renamed = build(spec.model_copy(update={"modes": modes}))
    assert input_names(renamed) == ["mode.missing", "mode.attention", "worst", "missing"]
    assert input_names(renamed, with_missing=False) == ["missing", "mode.attention", "worst"]
