"""The studio's own settings: its delivery spec."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep, StudioBilling, StudioRead
from api.schemas import DeliverySpecIn, DeliverySpecOut
from voicehub.delivery.spec import CHANNELS, DeliverySpec
from voicehub.tenancy.service import delivery_spec, set_delivery_spec
from voicehub.tenancy.tables import StudioDelivery

router = APIRouter(tags=["studio"])


def delivery_spec_out(spec: DeliverySpec, *, is_default: bool) -> DeliverySpecOut:
    return DeliverySpecOut(
        sample_rate=spec.sample_rate,
        bit_depth=spec.bit_depth,
        loudness=spec.loudness.value,
        loudness_target_lufs=spec.loudness.target_lufs,
        true_peak_ceiling_dbtp=spec.true_peak_ceiling_dbtp,
        channels=CHANNELS,
        is_default=is_default,
    )


@router.get("/v1/studio/delivery-spec", summary="Get the studio's delivery spec")
def get_delivery_spec(session: SessionDep, caller: StudioRead) -> DeliverySpecOut:
    """What every take is delivered as: the studio's spec, or the default if it set none."""
    return delivery_spec_out(
        delivery_spec(session, caller.studio_id),
        is_default=session.get(StudioDelivery, caller.studio_id) is None,
    )


@router.put("/v1/studio/delivery-spec", summary="Set the studio's delivery spec")
def put_delivery_spec(
    body: DeliverySpecIn, session: SessionDep, caller: StudioBilling
) -> DeliverySpecOut:
    """Replace the spec (omitted fields take their defaults); takes made from now on meet it."""
    spec = DeliverySpec.parse(
        sample_rate=body.sample_rate,
        bit_depth=body.bit_depth,
        loudness=body.loudness,
        true_peak_ceiling_dbtp=body.true_peak_ceiling_dbtp,
        channels=body.channels,
    )
    return delivery_spec_out(set_delivery_spec(session, caller.studio_id, spec), is_default=False)
