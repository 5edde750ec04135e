"""Studios and API keys: creation, and turning a bearer secret into a principal."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from voicehub.db import utcnow
from voicehub.delivery.spec import DeliverySpec
from voicehub.errors import Forbidden, InvalidInput, Unauthenticated
from voicehub.ids import new_id
from voicehub.tenancy.tables import ApiKey, Studio, StudioDelivery

# `keys` manages the tenant's own API keys; keys made before it existed keep their scopes.
STUDIO_SCOPES = ("read", "synthesize", "export", "billing", "keys")
ACTOR_SCOPES = ("consent", "read", "keys")
# The platform operator's keys belong to no studio or actor and have this scope only.
ADMIN_SCOPES = ("admin",)
KEY_PREFIX = "vh_live_"


@dataclass(frozen=True)
class IssuedKey:
    """A key as shown once to its owner: the secret is never stored or shown again."""

    id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a studio or an actor, with the scopes of the key used."""

    key_id: str
    scopes: frozenset[str]
    studio_id: str | None = None
    actor_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """A platform operator's key: no tenant, and the `admin` scope."""
        return self.studio_id is None and self.actor_id is None and "admin" in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This API key does not have the '{scope}' scope.", scope=scope)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_studio(session: Session, name: str, *, is_demo: bool = False) -> Studio:
    if not name.strip():
        raise InvalidInput("A studio needs a name.")
    studio = Studio(id=new_id("std"), name=name.strip(), is_demo=is_demo)
    session.add(studio)
    session.flush()
    return studio


def issue_api_key(
    session: Session,
    *,
    studio_id: str | None = None,
    actor_id: str | None = None,
    scopes: tuple[str, ...] | None = None,
    name: str | None = None,
    admin: bool = False,
) -> IssuedKey:
    """Create a key for a studio, an actor, or (`admin`) the operator; the secret is the only copy."""
    if admin:
        if studio_id is not None or actor_id is not None:
            raise InvalidInput("An admin key belongs to no studio or actor.")
        allowed: tuple[str, ...] = ADMIN_SCOPES
    elif (studio_id is None) == (actor_id is None):
        raise InvalidInput("An API key belongs to exactly one studio or one actor.")
    else:
        allowed = STUDIO_SCOPES if studio_id else ACTOR_SCOPES
    scopes = tuple(dict.fromkeys(scopes or allowed))
    unknown = sorted(set(scopes) - set(allowed))
    if unknown:
        raise InvalidInput(f"Unknown scopes: {', '.join(unknown)}.", fields=["scopes"])
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"),
        studio_id=studio_id,
        actor_id=actor_id,
        secret_sha256=_digest(secret),
        hint=secret[-4:],
        scopes=list(scopes),
        name=(name or "").strip() or None,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key.id, secret, scopes)


def authenticate(session: Session, secret: str | None) -> Principal:
    """The principal behind a bearer secret; any doubt is a 401 that reveals nothing."""
    if not secret or not secret.startswith(KEY_PREFIX):
        raise Unauthenticated("Send 'Authorization: Bearer vh_live_…' with a valid API key.")
    key = session.scalar(select(ApiKey).where(ApiKey.secret_sha256 == _digest(secret)))
    if key is None or not is_active(key):
        raise Unauthenticated("The API key is not valid.")
    return Principal(
        key_id=key.id,
        scopes=frozenset(key.scopes),
        studio_id=key.studio_id,
        actor_id=key.actor_id,
    )


def is_active(key: ApiKey, now: dt.datetime | None = None) -> bool:
    """Not revoked, and not past the end of a rotation's grace period."""
    now = now or utcnow()
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


def delivery_spec(session: Session, studio_id: str) -> DeliverySpec:
    """The studio's delivery spec: the one it set, or the default."""
    row = session.get(StudioDelivery, studio_id)
    return DeliverySpec() if row is None else row.spec


def set_delivery_spec(session: Session, studio_id: str, spec: DeliverySpec) -> DeliverySpec:
    """Replace the studio's delivery spec; takes rendered from now on meet it."""
    row = session.get(StudioDelivery, studio_id)
    if row is None:
        row = StudioDelivery(studio_id=studio_id)
        session.add(row)
    row.sample_rate = spec.sample_rate
    row.bit_depth = spec.bit_depth
    row.loudness = spec.loudness
    row.true_peak_ceiling_dbtp = spec.true_peak_ceiling_dbtp
    session.flush()
    return row.spec
