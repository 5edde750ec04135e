"""The synthesis engines this server has loaded."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RuntimeDep, StudioRead
from api.schemas import EngineListOut, EngineOut
from models.engines.registry import gpu_available

router = APIRouter(prefix="/v1/engines", tags=["engines"])


@router.get("", summary="List the installed synthesis engines")
def list_engines(rt: RuntimeDep, caller: StudioRead) -> EngineListOut:
    """Every loaded engine with its languages, speakers, model hash and GPU use."""
    return EngineListOut(
        data=[
            EngineOut(
                name=status.info.name,
                languages=list(status.info.languages),
                sample_rate=status.info.sample_rate,
                speakers=list(status.info.speakers),
                model_sha256=status.info.model_version,
                gpu_capable=status.gpu_capable,
                gpu_in_use=status.gpu_in_use,
            )
            for status in rt.engines.statuses()
        ],
        gpu_available=gpu_available(),
    )
