"""Assembly: the builder that turns a validated spec into an `EmmaModel`, and model directories.

This layer sits on top of the spec and the component kinds; training builds on it.
"""

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.checkpoint import load, save
from emma_plugins.assembly.model import EmmaModel, EmmaOutput
from emma_plugins.assembly.summary import count_parameters, render_summary

__all__ = ["EmmaModel", "EmmaOutput", "build", "count_parameters", "load", "render_summary", "save"]
