"""Opaque, type-prefixed identifiers (`prj_…`, `take_…`), never sequential."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """A fresh identifier: the type prefix, an underscore and 20 random base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))
