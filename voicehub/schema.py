"""Every table module, imported so `Base.metadata` knows the whole schema (Alembic)."""

from api.portal import tables as portal_tables
from consent import tables as consent_tables
from models import tables as model_tables
from models.builds import tables as build_tables
from voicehub import idempotency
from voicehub.audit import tables as audit_tables
from voicehub.billing import tables as billing_tables
from voicehub.db import Base
from voicehub.ledger import tables as ledger_tables
from voicehub.metering import tables as metering_tables
from voicehub.notifications import tables as notification_tables
from voicehub.production import tables as production_tables
from voicehub.provenance import tables as provenance_tables
from voicehub.synthesis import tables as synthesis_tables
from voicehub.tenancy import tables as tenancy_tables

metadata = Base.metadata

__all__ = [
    "audit_tables",
    "billing_tables",
    "build_tables",
    "consent_tables",
    "idempotency",
    "ledger_tables",
    "metadata",
    "metering_tables",
    "model_tables",
    "notification_tables",
    "portal_tables",
    "production_tables",
    "provenance_tables",
    "synthesis_tables",
    "tenancy_tables",
]
