"""Locations are written the way the spec is written."""

from __future__ import annotations

from emma_plugins.spec.issues import format_location


def test_format_location() -> None:
    assert format_location(["modes", 1, "estimator", "hidden"]) == "modes[1].estimator.hidden"
    assert format_location([]) == ""
    assert format_location(["data", "odd key"]) == "data['odd key']"
