"""The audit log: an append-only record of security-relevant actions (keys, consent, payouts)."""
