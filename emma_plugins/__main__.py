"""``python -m emma_plugins``: the ``emma`` command, for ``torchrun`` and environments without the script."""

from emma_plugins.cli import main

raise SystemExit(main())
