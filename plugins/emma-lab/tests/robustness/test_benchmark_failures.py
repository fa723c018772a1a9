"""The unanticipated suite: failure conditions, bench file fields, areas, ranks, outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _benchmark_samples import breast_cancer_bench
from _experiment_samples import small_data
from emma_lab.experiments.protocol import prepare_seed
from emma_lab.robustness.failures import (
    failure_areas,
    mean_ranks,
    rank_difference,
    summarise_failures,
)
from emma_lab.robustness.protocol import build_conditions, condition_names, failure_names
from emma_lab.robustness.suite import (
    FailureSpec,
    ProtocolSpec,
    UnanticipatedSpec,
    parse_bench,
)

from emma_plugins.core.errors import EmmaError, SpecError

MODES = ["mean", "error", "worst"]


def _suite() -> UnanticipatedSpec:
    return UnanticipatedSpec(
        failures=[
            FailureSpec(kind="gain", severities=[2.0, 8.0]),
            FailureSpec(kind="stuck", severities=[3.0], modes=["error", "worst"]),
            FailureSpec(kind="missing"),
        ],
        counts=[1, 2],
    )


def test_failure_conditions_hit_one_mode_or_several_as_named() -> None:
    data = prepare_seed(small_data(), MODES, seed=0, sigma=0.5)
    protocol = ProtocolSpec(ood=None, missing=False, noise_levels=[0.0, 1.0], failures=_suite())
    conditions = build_conditions(data, protocol)
    assert [c.name for c in conditions] == condition_names(MODES, protocol)
    names = failure_names(MODES, protocol)
    gain = ["fail:gain@2:mean", "fail:gain@2:error", "fail:gain@2:worst", "fail:gain@2:2modes"]
    assert names[:4] == gain
    assert "fail:stuck@3:mean" not in names and "fail:stuck@3:2modes" in names
    assert "fail:missing:worst" in names
    by_name = {c.name: c for c in conditions}
    clean = data.clean["test"]
    gain = by_name["fail:gain@8:error"].split
    assert torch.allclose(gain.modes[1], 8 * clean.modes[1], atol=1e-5)
    assert torch.equal(gain.modes[0], clean.modes[0])
    assert gain.corrupted[:, 1].all() and not gain.corrupted[:, [0, 2]].any()
    stuck = by_name["fail:stuck@3:2modes"].split
    assert (stuck.corrupted.sum(dim=1) == 2).all() and stuck.corrupted[:, 1:].all()
    assert torch.allclose(stuck.modes[2], torch.full_like(stuck.modes[2], 3.0))
    assert by_name["fail:missing:2modes"].split.missing.sum(dim=1).eq(2).all()
    again = build_conditions(data, protocol)
    assert all(
        torch.equal(a.split.modes[0], b.split.modes[0])
        for a, b in zip(conditions, again, strict=True)
    )
    assert {c.kind for c in conditions if c.family == "failure"} == {"gain", "stuck", "missing"}


def test_the_suite_adds_failures_and_its_seeds_and_the_standard_one_does_not() -> None:
    bench = breast_cancer_bench()
    assert bench.with_suite("standard").protocol.failures is None
    suite = bench.with_suite("unanticipated")
    assert suite.protocol.failures == bench.unanticipated
    assert suite.protocol.seeds == 10
    with pytest.raises(EmmaError, match="unknown suite 'other'"):
        bench.with_suite("other")


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ({"kind": "stuck", "severities": [1.0], "modes": ["nope"]}, "names \\['nope'\\]"),
        ({"kind": "ood", "severities": [1.0]}, "declares no severity parameter"),
        ({"kind": "quantize", "severities": [1.0]}, "unanticipated.failures.0 \\(quantize\\)"),
        ({"kind": "nonsense"}, "unanticipated.failures.0 \\(nonsense\\)"),
    ],
)
def test_bad_failures_fail_naming_the_field(failure: dict, message: str) -> None:
    data = breast_cancer_bench().model_dump(mode="json", exclude={"unanticipated"})
    data["unanticipated"] = {"failures": [failure]}
    with pytest.raises(SpecError, match=message):
        parse_bench(data)


def test_an_emma_variant_may_change_training_and_network() -> None:
    data = breast_cancer_bench().model_dump(mode="json", exclude_unset=True)
    data["emma"] = {
        "emma": {"modal_energy": {"kind": "coupled"}},
        "no_labels": {"training": {"lambda_e": 0}},
        "experts": {"apply_to": "encodings", "network": {"kind": "late_fusion", "hidden": [4]}},
    }
    bench = parse_bench(data)
    assert bench.variant_spec("no_labels").resolved_training.lambda_e == 0
    assert bench.variant_spec("no_labels").attention.enabled
    experts = bench.variant_spec("experts")
    assert experts.network.kind == "late_fusion" and experts.attention.apply_to == "encodings"
    data["emma"]["bad"] = {"apply_to": "encodings"}  # an mlp has no per-mode encodings
    with pytest.raises(SpecError, match=r"emma\.bad"):
        parse_bench(data)


def _scores(boost: dict[str, float], seeds: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    conditions = [("clean", "clean", None, None, None)]
    conditions += [(f"fail:gain@{k}:{m}", "failure", "gain", k, 1) for k in (2, 4) for m in "ab"]
    conditions += [("fail:ood:2modes", "failure", "ood", None, 2)]
    for seed in range(seeds):
        for method in ("peer", "emma", "other"):
            for name, family, kind, level, count in conditions:
                bonus = boost.get(method, 0.0) if family == "failure" else 0.0
                rows.append(
                    {
                        "seed": seed,
                        "method": method,
                        "condition": name,
                        "family": family,
                        "kind": kind,
                        "level": level,
                        "count": count,
                        "score": 0.5 + bonus + rng.normal(0, 0.001),
                    }
                )
    return pd.DataFrame(rows)


def test_areas_average_the_severities_and_modes() -> None:
    scores = _scores({})
    areas = failure_areas(scores)
    assert set(areas["label"]) == {"gain:1mode", "ood:2modes"}
    one = areas[(areas.seed == 0) & (areas.method == "emma") & (areas.label == "gain:1mode")]
    rows = scores[(scores.seed == 0) & (scores.method == "emma") & (scores.kind == "gain")]
    assert float(one["area"].iloc[0]) == pytest.approx(rows["score"].mean())


def test_ranks_and_the_outcome_follow_the_scores() -> None:
    scores = _scores({"emma": 0.2, "other": -0.2})
    ranks = {r.method: r for r in mean_ranks(scores, ["peer", "emma", "other"])}
    assert ranks["emma"].mean == 1.0 and ranks["other"].mean == 3.0
    assert ranks["peer"].low <= ranks["peer"].mean <= ranks["peer"].high
    diff = rank_difference(scores, ["peer", "emma", "other"], "emma", "peer")
    assert diff.mean == -1.0 and diff.high < 0
    summary = summarise_failures(scores, ["peer", "emma", "other"], ["emma"], "peer")
    assert summary is not None and summary.outcomes[0].recommended
    assert {c.verdict for c in summary.comparisons} == {"win"}
    worse = summarise_failures(_scores({"emma": -0.2}), ["peer", "emma", "other"], ["emma"], "peer")
    assert worse is not None and not worse.outcomes[0].recommended
    clean_cost = _scores({"emma": 0.2})
    clean_cost.loc[(clean_cost.method == "emma") & (clean_cost.family == "clean"), "score"] -= 0.1
    costly = summarise_failures(clean_cost, ["peer", "emma", "other"], ["emma"], "peer")
    assert costly is not None and not costly.outcomes[0].recommended
    assert summarise_failures(scores[scores.family == "clean"], ["peer"], ["emma"], "peer") is None
    two_seeds = scores[scores.seed < 2]
    few = summarise_failures(two_seeds, ["peer", "emma", "other"], ["emma"], "peer")
    assert few is not None and not few.outcomes[0].recommended  # too few seeds to say
