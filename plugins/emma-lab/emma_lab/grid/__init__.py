"""The rho x lambda grid of the emma model, selected on validation only, with resume
(`emma grid`)."""

__all__: list[str] = []
