"""Subcommands of the ``emma`` CLI, one module each."""
