"""Telling studios what changed: events in the API and signed webhooks."""
