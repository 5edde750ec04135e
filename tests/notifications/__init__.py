"""Studio notifications: events and signed webhooks."""
