"""Portal pages: the approvals inbox and every use of the actor's voice."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
