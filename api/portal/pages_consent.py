"""Portal pages: the consent wizard, recording the spoken statement, pausing, resuming and revoking."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
