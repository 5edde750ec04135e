"""Lip-sync exports per cut."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep, StudioExport
from voicehub.lipsync import cut_timing_json, rhubarb_tsv
from voicehub.production.exports import cut_timing

router = APIRouter(tags=["exports"])

FpsQuery = Annotated[
    str | None, Query(description="24, 12, 8 or the project's rate; default the cut's")
]


@router.get("/v1/cuts/{cut_id}/exports/json", summary="Export a cut's timing as JSON")
def export_cut_json(
    cut_id: str,
    session: SessionDep,
    caller: StudioExport,
    fps: FpsQuery = None,
    shape_set: Annotated[Literal["rhubarb", "anime3", "vowel5"], Query()] = "rhubarb",
) -> dict[str, Any]:
    """Phonemes, words, mouth shapes and frames of every line, with take and consent ids."""
    return cut_timing_json(
        cut_timing(session, caller.studio_id, cut_id, shape_set=shape_set, fps=fps)
    )


@router.get(
    "/v1/cuts/{cut_id}/exports/rhubarb",
    summary="Export a cut's mouth cues as Rhubarb TSV",
    response_class=Response,
    responses={200: {"content": {"text/tab-separated-values": {}}}},
)
def export_cut_rhubarb(
    cut_id: str, session: SessionDep, caller: StudioExport, fps: FpsQuery = None
) -> Response:
    """`seconds<TAB>shape` per cue (shapes A–H, X), frame-snapped, ending with X."""
    timing = cut_timing(session, caller.studio_id, cut_id, shape_set="rhubarb", fps=fps)
    return Response(
        rhubarb_tsv(timing),
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{timing.cut.number}.tsv"'},
    )
