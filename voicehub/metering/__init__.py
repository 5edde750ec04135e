"""Metering: one usage record per delivered take, priced in integer micro-units."""
