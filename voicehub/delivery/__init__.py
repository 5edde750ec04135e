"""Delivery audio: each studio's spec (rate, depth, loudness, true-peak ceiling) and the
mastering that turns an engine's output into a take that meets it, timing kept exact."""
