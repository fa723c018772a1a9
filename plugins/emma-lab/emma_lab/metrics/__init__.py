"""Metrics, paired comparisons across seeds and their verdicts."""
