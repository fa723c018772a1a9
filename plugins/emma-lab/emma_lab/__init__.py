"""emma-lab: the thesis' experiments and the robustness benchmark, as an emma-plugins plugin.

It reproduces the thesis (experiments, grid, manifolds, analyses), benchmarks EMMA against
its peers and writes the reports. It plugs into the library like any third-party package:
its data sets, its ``evaluation`` spec section and its commands arrive through hooks.
"""

from emma_lab._version import __version__

__all__ = ["__version__"]
