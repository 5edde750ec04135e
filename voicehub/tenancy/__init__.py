"""Studios (the tenants) and their API keys."""
