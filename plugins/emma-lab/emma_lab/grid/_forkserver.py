"""Imported by the grid's forkserver only (its preload list), never by ``emma grid``
itself: the forkserver asks to be killed when the ``emma grid`` process dies
(`emma_lab.grid.lifeline`), which in turn kills every worker it forked."""

from emma_lab.grid.lifeline import die_with_parent

die_with_parent()
