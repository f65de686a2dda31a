"""The live server of the real-time tests, for the contests' socket flows."""

from tests.realtime.conftest import live  # noqa: F401
