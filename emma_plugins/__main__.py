"""``python -m emma_plugins``: the ``emma`` command, for ``torchrun`` and script-less hosts."""

from emma_plugins.cli import main

raise SystemExit(main())
