"""Consent: actors, their terms and status history, and the gate every synthesis passes."""
