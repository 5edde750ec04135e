"""Portal pages: earnings: royalties over time and per studio, statements, payouts and the payout account."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
