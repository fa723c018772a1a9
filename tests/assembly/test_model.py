"""`EmmaModel`: the ways modes can be passed, splitting a table, missing modes."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
import torch
from _spec_samples import calibrated, spec_dict, table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaOutput


@pytest.fixture
def model():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return calibrated(build(spec_dict()), table())


def test_mapping_sequence_table_and_array_give_the_same_output(model) -> None:  # type: ignore[no-untyped-def]
    x = table(seed=3)
    ip, dm = x[:, :4], x[:, 4:]
    outputs = [
        model(x).output,
        model([ip, dm]).output,
        model({"dm_snr": dm, "ip": ip}).output,
        model(x.numpy().astype(np.float32)).output,
    ]
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])


def test_forward_returns_output_and_report(model) -> None:  # type: ignore[no-untyped-def]
    out = model(table())
    assert isinstance(out, EmmaOutput)
    output, report = out
    assert output.shape == (16, 1)
    assert report is not None and report.attention.shape == (16, 2)


def test_split_reshapes_to_declared_shapes() -> None:
    data = spec_dict()
    data["modes"][0] = {"name": "ip", "shape": [2, 2], "estimator": "dae"}
    model = build(data)
    ip, dm = model.split(table(n=3))
    assert ip.shape == (3, 2, 2) and dm.shape == (3, 4)
    assert torch.equal(ip.flatten(1), table(n=3)[:, :4])


def test_bad_inputs_are_explained(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"\[N, 8\] tensor \(ip 4 \+ dm_snr 4 columns"):
        model.split(torch.zeros(3, 7))
    with pytest.raises(ValueError, match=r"missing \['dm_snr'\], unknown \['dm'\]"):
        model({"ip": torch.zeros(2, 4), "dm": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="expected 2 modes"):
        model([torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="mode 'dm_snr' has shape"):
        model([torch.zeros(2, 4), torch.zeros(2, 5)])


def test_missing_modes_are_zero_filled_without_attention() -> None:
    model = build(spec_dict(attention={"enabled": False}))
    x = table(n=4)
    missing = torch.tensor([[False, True]] * 4)
    filled = torch.cat([x[:, :4], torch.zeros(4, 4)], dim=1)
    assert torch.equal(model(x, missing).output, model(filled).output)
    with pytest.raises(ValueError, match=r"expected \[N, M\] = \[4, 2\]"):
        model(x, torch.zeros(4, 3, dtype=torch.bool))


def test_missing_mode_gets_no_attention(model) -> None:  # type: ignore[no-untyped-def]
    missing = torch.tensor([[True, False]] * 16)
    report = model(table(), missing).report
    assert torch.all(report.attention[:, 0] == 0)


TORCH_DTYPES = [
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
    torch.bool,
]
NUMPY_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
]
CONTAINERS = ["tensor", "numpy", "list"]
LAYOUTS = ["table", "sequence", "mapping"]


def _small_integers(n: int, seed: int, high: int) -> torch.Tensor:
    """Values every dtype holds exactly (0/1 for bool)."""
    return torch.randint(0, high, (n, 8), generator=torch.Generator().manual_seed(seed)).float()


def _contained(values: torch.Tensor, container: str, dtype: object) -> object:
    if container == "tensor":
        return values.to(cast(torch.dtype, dtype))
    array = values.numpy().astype(dtype)
    return array if container == "numpy" else array.tolist()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    container=st.sampled_from(CONTAINERS),
    layout=st.sampled_from(LAYOUTS),
    data=st.data(),
    n=st.integers(1, 5),
    seed=st.integers(0, 3),
)
def test_any_real_dtype_and_container_gives_the_float32_output(
    model, container: str, layout: str, data: st.DataObject, n: int, seed: int
) -> None:  # type: ignore[no-untyped-def]
    dtypes = TORCH_DTYPES if container == "tensor" else NUMPY_DTYPES
    dtype = data.draw(st.sampled_from(dtypes), label="dtype")
    is_bool = dtype in (torch.bool, np.bool_)
    values = _small_integers(n, seed, 2 if is_bool else 5)
    expected = model(values)
    table_in = _contained(values, container, dtype)
    ip, dm = (
        _contained(values[:, :4], container, dtype),
        _contained(values[:, 4:], container, dtype),
    )
    if layout == "table":
        if container == "list":  # a list is a list of modes; a table comes as an array
            table_in = np.asarray(table_in)
        got = model(table_in)
    elif layout == "sequence":
        got = model([ip, dm])
    else:
        got = model({"dm_snr": dm, "ip": ip})
    assert torch.equal(got.output, expected.output)
    assert got.output.dtype == torch.float32
    assert torch.equal(got.report.attention, expected.report.attention)


def test_a_float64_model_takes_float32_inputs_and_missing_masks_as_arrays() -> None:
    torch.manual_seed(0)
    model = calibrated(build(spec_dict()), table()).double()
    x = table(n=4)
    out = model(x, np.array([[False, True]] * 4))
    assert out.output.dtype == torch.float64
    assert torch.equal(out.output, model(x.double(), torch.tensor([[False, True]] * 4)).output)


@pytest.mark.parametrize(
    ("modes", "error", "message"),
    [
        (
            [np.array([["a", "b", "c", "d"]]), np.zeros((1, 4))],
            TypeError,
            r"^mode 'ip' has numpy dtype <U1 \(shape \(1, 4\)\); expected real numbers "
            r"\(float, int or bool\), \[N, 4\]\.$",
        ),
        (
            [np.zeros((1, 4)), np.array([[object()] * 4])],
            TypeError,
            r"^mode 'dm_snr' has numpy dtype object \(shape \(1, 4\)\)",
        ),
        (
            [torch.zeros(1, 4, dtype=torch.complex64), torch.zeros(1, 4)],
            TypeError,
            r"^mode 'ip' has dtype torch.complex64 \(shape \(1, 4\)\); expected real numbers",
        ),
        (
            [[[1.0, 2.0], [1.0]], torch.zeros(2, 4)],
            TypeError,
            r"^mode 'ip' cannot be read as an array of numbers \(.*\); expected \[N, 4\]\.$",
        ),
        (
            ["abcd", torch.zeros(1, 4)],
            TypeError,
            r"^mode 'ip' is a str; expected a tensor, numpy array or nested lists",
        ),
        (
            [np.zeros((2, 4), dtype=np.int64), np.zeros((2, 3))],
            ValueError,
            r"^mode 'dm_snr' has shape \(2, 3\) \(dtype float64\); the spec declares samples "
            r"of shape \(4,\), so pass \[N, 4\]\.$",
        ),
        (
            [np.float64(3.0), torch.zeros(1, 4)],
            ValueError,
            r"^mode 'ip' has shape \(\) \(dtype float64\)",
        ),
        (
            [torch.zeros(2, 4), torch.zeros(3, 4)],
            ValueError,
            r"^mode 'dm_snr' has 3 samples but mode 'ip' has 2",
        ),
    ],
)
def test_inputs_that_cannot_be_converted_are_refused_naming_the_mode(
    model, modes: list[object], error: type[Exception], message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        model(modes)


def test_a_table_of_strings_is_refused() -> None:
    model = build(spec_dict())
    with pytest.raises(TypeError, match=r"^the table has numpy dtype <U1 \(shape \(2, 8\)\)"):
        model(np.full((2, 8), "x"))


@pytest.mark.parametrize("apply_to", ["inputs", "encodings"])
def test_a_bad_value_in_one_mode_of_one_sample_is_treated_as_missing(apply_to: str) -> None:
    spec = spec_dict(attention={"apply_to": apply_to})
    if apply_to == "encodings":
        spec["network"] = {"kind": "encoder_fusion", "encoder": [4], "head": [4]}
    torch.manual_seed(0)
    model = calibrated(build(spec), table())
    x = table(n=5, seed=4)
    bad = x.clone()
    bad[2, 5] = float("nan")  # dm_snr of sample 2
    out = model(bad)
    expected_invalid = torch.zeros(5, 2, dtype=torch.bool)
    expected_invalid[2, 1] = True
    assert torch.equal(out.report.invalid, expected_invalid)
    assert torch.isfinite(out.output).all() and torch.isfinite(out.report.attention).all()
    assert torch.equal(out.output, model(x, expected_invalid).output)
    plain = model(x).output
    assert torch.allclose(out.output[[0, 1, 3, 4]], plain[[0, 1, 3, 4]])


def test_a_dataframe_is_a_table() -> None:
    import pandas as pd

    torch.manual_seed(0)
    model = calibrated(build(spec_dict()), table())
    x = table(n=3, seed=1)
    frame = pd.DataFrame(x.double().numpy())
    assert model.input_dtype() == (torch.float32, torch.device("cpu"))
    assert torch.equal(model(frame).output, model(x).output)
