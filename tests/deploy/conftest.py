"""One small model trained once for the deploy tests: breast cancer, three modes, 3+3 epochs."""

from __future__ import annotations

from pathlib import Path

import pytest
from _deploy_samples import small_spec

from emma_plugins import parse_spec
from emma_plugins.deploy import FitOutcome, fit_model
from emma_plugins.spec import EmmaSpec


@pytest.fixture(scope="session")
def spec() -> EmmaSpec:
    return parse_spec(small_spec())


@pytest.fixture(scope="session")
def fitted(spec: EmmaSpec, tmp_path_factory: pytest.TempPathFactory) -> FitOutcome:
    return fit_model(spec, out=tmp_path_factory.mktemp("model") / "bc")


@pytest.fixture(scope="session")
def model_dir(fitted: FitOutcome) -> Path:
    assert fitted.directory is not None
    return fitted.directory
