"""The ledger: append-only double entry over integer micro-units, periods and their statements."""
