"""Pipelines over stored history: replaying events for recompute and what-if."""
