"""The lab's ``emma`` subcommands: ``run``, ``grid``, ``bench`` and ``demo``."""

__all__: list[str] = []
