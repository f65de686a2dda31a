"""The live-server fixture of the real-time tests, for the team-room tests here."""

from tests.realtime.conftest import live  # noqa: F401
