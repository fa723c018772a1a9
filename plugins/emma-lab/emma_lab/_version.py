"""The lab's version, in one leaf module."""

__version__ = "0.1.0"
