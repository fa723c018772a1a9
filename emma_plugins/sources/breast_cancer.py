"""Wisconsin diagnostic breast cancer, bundled with scikit-learn: the offline default data set.

Each of ten cell-nucleus measurements is summarised three ways, which gives three modes of
ten features: ``mean``, ``error`` (standard error) and ``worst`` (mean of the three largest
values). It needs no data directory and no network, so examples and tests always run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emma_plugins.sources.container import MultiModalData, declares_task

NAME = "breast_cancer"
#: mode -> how its scikit-learn column names are recognised.
MODE_PATTERNS = {"mean": "mean ", "error": " error", "worst": "worst "}


@declares_task("binary", 2)
def load_breast_cancer() -> MultiModalData:
    """569 samples, modes mean/error/worst (10 features each), binary target.

    Target: 1 = malignant (212 samples, the rarer class, so the positive class of F1), 0 =
    benign (357). scikit-learn codes them the other way round; this loader flips them.
    """
    from sklearn.datasets import load_breast_cancer as sklearn_breast_cancer

    bunch = sklearn_breast_cancer()
    columns = [str(c) for c in bunch.feature_names]
    features = pd.DataFrame(np.asarray(bunch.data, dtype=np.float64), columns=columns)
    malignant = list(bunch.target_names).index("malignant")
    modes = {
        "mean": [c for c in columns if c.startswith(MODE_PATTERNS["mean"])],
        "error": [c for c in columns if c.endswith(MODE_PATTERNS["error"])],
        "worst": [c for c in columns if c.startswith(MODE_PATTERNS["worst"])],
    }
    return MultiModalData(
        name=NAME,
        features=features,
        target=(np.asarray(bunch.target) == malignant).astype(np.int64),
        modes=modes,
        task="binary",
        n_classes=2,
        description="Breast Cancer Wisconsin (Diagnostic), from scikit-learn; 1 = malignant.",
        class_names=("benign", "malignant"),
    )
