"""Experiments of the thesis and beyond, as library functions."""
