"""The robustness benchmark: is EMMA better than what one would pick instead?

Every method (early fusion, noise augmentation, EMMA's variants and the peers) trains
and is tested on the same splits, seeds and corruptions; the best peer is chosen on
validation data; EMMA is compared with it per condition, paired over seeds.

* `suite`: bench files (one per data set) and where they are found;
* `methods`: how each method is built and trained on one seed;
* `protocol`: the test conditions (noise sweeps, out of distribution, missing modes,
  several noisy modes);
* `metrics`: task metric, calibration, corruption and error detection, curve areas;
* `selection`: the best peer on validation, the paired verdicts;
* `run`, `runner`: one data set's benchmark, and the whole suite written to a folder;
* `report`: tables, curves, ``report.md`` and ``results.json``.
"""

# The submodules are imported where used: `emma` builds its parser without training code.
__all__: list[str] = []
