"""`EmmaModel`: the ways modes can be passed, splitting a table, missing modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _spec_samples import calibrated, spec_dict, table

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
