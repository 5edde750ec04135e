"""What anyone may need to check VoiceHub's signatures offline."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import RuntimeDep

router = APIRouter(tags=["platform"])


class ReceiptKeyOut(BaseModel):
    alg: str
    key_id: str
    public_key_pem: str


@router.get("/v1/receipt-key", summary="The public key that verifies consent receipts")
def get_receipt_key(runtime: RuntimeDep) -> ReceiptKeyOut:
    key = runtime.receipt_key
    return ReceiptKeyOut(
        alg="Ed25519", key_id=key.key_id, public_key_pem=key.public_key_pem().decode()
    )
