"""Accolade: a self-hosted gamification engine with real-time celebrations."""

__version__ = "0.1.0"
