"""Job tests use the Eval Hub fixtures: the scripted fake endpoint and the app with its executor."""

from tests.integration.hub.conftest import environ, fake, hub, hub_app, script

__all__ = ["environ", "fake", "hub", "hub_app", "script"]
