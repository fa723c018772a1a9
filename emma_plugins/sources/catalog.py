"""Load any registered data set by kind, built-in or from a plugin."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from emma_plugins.core.contracts import check_component
from emma_plugins.core.errors import DataError
from emma_plugins.core.plugins import get_registry
from emma_plugins.sources.container import MultiModalData


def load_dataset(
    kind: str, params: BaseModel | dict[str, Any] | None = None, **overrides: Any
) -> MultiModalData:
    """``load_dataset("htru2", data_dir="...")``: validate the params and call the factory."""
    values = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
    values.update(overrides)
    registry = get_registry("dataset")
    registration = registry.get(kind)
    data = registration.build(values)
    if not isinstance(data, MultiModalData):
        raise DataError(
            f"Data set {kind!r} returned {type(data).__name__}; a dataset factory must return "
            "MultiModalData."
        )
    check_component(
        "dataset", data, kind=kind, provider=registration.provider, label=registry.label
    )
    return data
