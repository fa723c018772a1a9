"""The practitioner's path: train one model for use, predict with it, export it.

`fit_model` trains from a spec and data into a model directory; `RawInputModel` turns raw
readings into predictions, attention and per-mode failure flags (what `predict` writes and
`export_model` exports); `calibrate` sets the failure thresholds. The Hugging Face Hub
mixin is in `emma_plugins.deploy.hub` (the ``hub`` extra).
"""

from emma_plugins.deploy.calibration import calibrate
from emma_plugins.deploy.data import as_multimodal, load_spec_data, select_modes
from emma_plugins.deploy.export import ExportError, export_model, export_onnx, export_torch
from emma_plugins.deploy.fitting import FitOutcome, fit_model
from emma_plugins.deploy.inference import MAX_ABS_Z, OUTPUTS, RawInputModel
from emma_plugins.deploy.prediction import Predictor, predict, predict_file

__all__ = [
    "MAX_ABS_Z",
    "OUTPUTS",
    "ExportError",
    "FitOutcome",
    "Predictor",
    "RawInputModel",
    "as_multimodal",
    "calibrate",
    "export_model",
    "export_onnx",
    "export_torch",
    "fit_model",
    "load_spec_data",
    "predict",
    "predict_file",
    "select_modes",
]
