"""The library's own ``emma`` subcommands; plugins add theirs through ``register_commands``."""

__all__: list[str] = []
