"""The rho x lambda grid of model-with, selected on validation only, with resume (`emma grid`)."""

__all__: list[str] = []
