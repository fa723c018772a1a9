"""Where training runs: ``training.device`` (or ``--device``) as a torch device, and the
numeric precision (``training.precision``) as an autocast context and a gradient scaler.

``auto`` picks CUDA, then Apple's MPS, then the CPU. A device the machine lacks is an error
that says what this torch build sees, never a silent fall back to the CPU.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

import torch

from emma_plugins.core.errors import EmmaError

#: What ``training.device`` and ``--device`` accept.
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d+)?)$"
#: What ``training.precision`` accepts: float32, bfloat16 autocast, float16 autocast with a
#: gradient scaler.
PRECISIONS: tuple[str, ...] = ("32", "bf16", "16-mixed")


class DeviceError(EmmaError, RuntimeError):
    """The device asked for is not available here."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``) means here."""
    if not re.match(DEVICE_PATTERN, name):
        raise DeviceError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N or mps.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise DeviceError(
                f"device {name!r}: CUDA is not available ({build} of torch "
                f"{torch.__version__}); use --device cpu or auto."
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"device {name!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}."
            )
    if device.type == "mps" and not _mps_available():
        raise DeviceError(f"device {name!r}: Apple's MPS backend is not available here.")
    return device


@dataclass(frozen=True)
class Precision:
    """``32``, ``bf16`` or ``16-mixed``: how the network's forward pass computes.

    The weights stay float32; autocast runs the network's matrix products in the lower
    precision. The attention's potentials, Boltzmann normalisation and the regularizers
    always compute in float32 (`emma_plugins.attention.module.full_precision`).
    """

    name: str = "32"

    def __post_init__(self) -> None:
        if self.name not in PRECISIONS:
            raise ValueError(f"precision {self.name!r} is not one of {', '.join(PRECISIONS)}.")

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "16-mixed": torch.float16}.get(self.name)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        """The forward pass's context on ``device``."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)

    def scaler(self, device: torch.device) -> Any:
        """A `torch.amp.GradScaler` for float16 (its gradients underflow without one)."""
        if self.name != "16-mixed":
            return None
        return torch.amp.GradScaler(device.type)


__all__ = ["DEVICE_PATTERN", "PRECISIONS", "DeviceError", "Precision", "resolve_device"]
