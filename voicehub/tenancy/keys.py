"""Managing API keys (list, create, rotate, revoke) and limiting the requests each key makes.

A studio or actor manages its own keys with a key that has the `keys` scope; it
can never hand out a scope it lacks. The platform operator's admin keys manage
anyone's. Every change is written to the audit log in the same transaction.

Rate limits are token buckets per key (the generic cell rate algorithm: one
timestamp per key and bucket, no window edges where a client could send twice
its allowance). With Redis the bucket lives there, so every API replica draws
on the same one; without it each process keeps its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from voicehub.audit import service as audit_log
from voicehub.db import utcnow
from voicehub.errors import ApiKeyInactive, Forbidden, LastKeyManager, NotFound
from voicehub.settings import Settings
from voicehub.tenancy.service import (
    IssuedKey,
    Principal,
    create_studio,
    is_active,
    issue_api_key,
)
from voicehub.tenancy.tables import ApiKey, Studio

log = logging.getLogger(__name__)

KEYS_SCOPE = "keys"


# ---- a tenant's own keys ----------------------------------------------------------


def tenant_keys(principal: Principal) -> Select[ApiKey]:
    """The keys of the caller's studio or actor: the one query every key lookup goes through."""
    if principal.studio_id is not None:
        return select(ApiKey).where(ApiKey.studio_id == principal.studio_id)
    if principal.actor_id is not None:
        return select(ApiKey).where(ApiKey.actor_id == principal.actor_id)
    raise Forbidden("This endpoint needs a studio's or an actor's API key.", scope=KEYS_SCOPE)


def get_tenant_key(session: Session, principal: Principal, key_id: str) -> ApiKey:
    """One of the caller's keys, locked for update; another tenant's is a 404 that reveals nothing."""
    key = session.scalar(
        tenant_keys(principal)
        .where(ApiKey.id == key_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    return key


def create_key(
    session: Session, principal: Principal, *, scopes: tuple[str, ...], name: str | None
) -> IssuedKey:
    """A new key for the caller's tenant, with no scope the calling key does not have."""
    tenant_keys(principal)
    issued = issue_api_key(
        session,
        studio_id=principal.studio_id,
        actor_id=principal.actor_id,
        scopes=scopes,
        name=name,
    )
    _require_within(principal, issued.scopes, "grant")
    audit_log.record(
        session,
        "api_key.created",
        target_type="api_key",
        target_id=issued.id,
        details={"scopes": list(issued.scopes), "name": name},
    )
    return issued


@dataclass(frozen=True)
class Rotation:
    issued: IssuedKey
    previous: ApiKey


def rotate_key(
    session: Session, principal: Principal, key_id: str, *, grace_seconds: float
) -> Rotation:
    """A successor with the same scopes and name; the old key works for the grace period only."""
    key = get_tenant_key(session, principal, key_id)
    _require_within(principal, tuple(key.scopes), "rotate a key with")
    return _rotate(session, key, grace_seconds)


def revoke_key(session: Session, principal: Principal, key_id: str) -> ApiKey:
    """Revoke one of the caller's keys now; revoking it again changes nothing.

    Refused when it would leave the tenant no lasting key (active and not
    expiring) that can manage keys: nobody could then make or rotate one.
    """
    key = get_tenant_key(session, principal, key_id)
    if key.revoked_at is not None:
        return key
    if KEYS_SCOPE in key.scopes and not _other_lasting_manager(session, principal, key):
        raise LastKeyManager(
            f"{key.id} is the last key that can manage this account's keys. Create or rotate"
            " to a key with the 'keys' scope first, then revoke this one.",
            key_id=key.id,
        )
    return _revoke(session, key)


def _other_lasting_manager(session: Session, principal: Principal, key: ApiKey) -> bool:
    others = session.scalars(
        tenant_keys(principal).where(
            ApiKey.id != key.id, ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_(None)
        )
    )
    return any(KEYS_SCOPE in other.scopes for other in others)


def _require_within(principal: Principal, scopes: tuple[str, ...], verb: str) -> None:
    missing = sorted(set(scopes) - principal.scopes)
    if missing:
        raise Forbidden(
            f"This API key cannot {verb} scopes it does not have: {', '.join(missing)}.",
            scope=missing[0],
        )


def _rotate(session: Session, key: ApiKey, grace_seconds: float) -> Rotation:
    now = utcnow()
    if not is_active(key, now):
        raise ApiKeyInactive(f"{key.id} is revoked or expired; create a new key instead.")
    issued = issue_api_key(
        session,
        studio_id=key.studio_id,
        actor_id=key.actor_id,
        scopes=tuple(key.scopes),
        name=key.name,
        admin=key.studio_id is None and key.actor_id is None,
    )
    ends = now + dt.timedelta(seconds=grace_seconds)
    # Rotating twice never lengthens the first rotation's grace period.
    key.expires_at = ends if key.expires_at is None else min(key.expires_at, ends)
    session.flush()
    audit_log.record(
        session,
        "api_key.rotated",
        target_type="api_key",
        target_id=key.id,
        details={"successor_id": issued.id, "expires_at": key.expires_at.isoformat()},
    )
    return Rotation(issued, key)


def _revoke(session: Session, key: ApiKey) -> ApiKey:
    key.revoked_at = utcnow()
    session.flush()
    audit_log.record(
        session,
        "api_key.revoked",
        target_type="api_key",
        target_id=key.id,
        details={"studio_id": key.studio_id, "actor_id": key.actor_id, "scopes": key.scopes},
    )
    return key


# ---- the platform operator ---------------------------------------------------------


def issue_admin_key(session: Session, name: str) -> IssuedKey:
    """A platform operator's key (scope `admin`, no tenant); made by `voicehub create-admin-key`."""
    issued = issue_api_key(session, name=name, admin=True)
    audit_log.record(
        session,
        "api_key.created",
        target_type="api_key",
        target_id=issued.id,
        details={"scopes": list(issued.scopes), "name": name, "admin": True},
    )
    return issued


def admin_create_studio(session: Session, name: str) -> tuple[Studio, IssuedKey]:
    """A studio and its first key, with every studio scope."""
    studio = create_studio(session, name)
    issued = issue_api_key(session, studio_id=studio.id)
    audit_log.record(
        session,
        "studio.created",
        target_type="studio",
        target_id=studio.id,
        details={"name": studio.name, "first_key_id": issued.id},
    )
    audit_log.record(
        session,
        "api_key.created",
        target_type="api_key",
        target_id=issued.id,
        details={"scopes": list(issued.scopes), "studio_id": studio.id},
    )
    return studio, issued


def admin_issue_key(
    session: Session,
    *,
    studio_id: str | None,
    actor_id: str | None,
    scopes: tuple[str, ...] | None,
    name: str | None,
) -> IssuedKey:
    """A key for an existing studio or actor (e.g. the first with `keys` for an older tenant)."""
    from consent.tables import Actor

    if studio_id is not None and session.get(Studio, studio_id) is None:
        raise NotFound(f"No studio {studio_id}.")
    if actor_id is not None and session.get(Actor, actor_id) is None:
        raise NotFound(f"No actor {actor_id}.")
    issued = issue_api_key(
        session, studio_id=studio_id, actor_id=actor_id, scopes=scopes, name=name
    )
    audit_log.record(
        session,
        "api_key.created",
        target_type="api_key",
        target_id=issued.id,
        details={
            "scopes": list(issued.scopes),
            "name": name,
            "studio_id": studio_id,
            "actor_id": actor_id,
        },
    )
    return issued


def admin_revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke anyone's key now (a leaked key, a tenant who left); revoking again changes nothing."""
    key = session.get(ApiKey, key_id, with_for_update=True, populate_existing=True)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    if key.revoked_at is not None:
        return key
    return _revoke(session, key)


# ---- rate limits --------------------------------------------------------------------


@dataclass(frozen=True)
class RateDecision:
    """One request's draw on a bucket: allowed or not, and what the RateLimit headers say."""

    allowed: bool
    limit: int
    remaining: int
    # Seconds until the bucket is full again, and (when refused) until a request is allowed.
    reset_seconds: float
    retry_after_seconds: float
    window_seconds: int = 60

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_seconds)),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }
        if not self.allowed:
            values["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return values


class RateLimiter(Protocol):
    def hit(self, bucket: str, key_id: str, per_minute: int) -> RateDecision: ...

    def close(self) -> None: ...


def _gcra(tat: float, now: float, per_minute: int) -> tuple[float | None, RateDecision]:
    """The generic cell rate algorithm: the new theoretical arrival time (None: refused)."""
    interval = 60.0 / per_minute
    start = max(tat, now)
    new_tat = start + interval
    allow_at = new_tat - per_minute * interval
    if now < allow_at:
        return None, RateDecision(False, per_minute, 0, start - now, allow_at - now)
    remaining = int((now - allow_at) / interval + 1e-9)
    return new_tat, RateDecision(True, per_minute, remaining, new_tat - now, 0.0)


class LocalRateLimiter:
    """Buckets in this process's memory: the embedded setup, or a fallback while Redis is away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tats: dict[tuple[str, str], float] = {}

    def hit(self, bucket: str, key_id: str, per_minute: int) -> RateDecision:
        now = time.monotonic()
        with self._lock:
            tat = self._tats.get((bucket, key_id), now)
            new_tat, decision = _gcra(tat, now, per_minute)
            if new_tat is not None:
                self._tats[(bucket, key_id)] = new_tat
            if len(self._tats) > 100_000:
                # A full bucket needs no state: forget keys that have refilled.
                self._tats = {k: v for k, v in self._tats.items() if v > now}
        return decision

    def close(self) -> None:
        self._tats.clear()


# The same algorithm in Redis, atomic, on the server's clock (replicas' clocks may differ).
# Times are integer microseconds; SET writes them with %.0f so Lua never rounds them.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
  math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every API replica; falls back to local buckets if it fails."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script: Any = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._fallback = LocalRateLimiter()
        self._warned_at = 0.0

    def hit(self, bucket: str, key_id: str, per_minute: int) -> RateDecision:
        import redis

        interval_us = 60_000_000 / per_minute
        try:
            allowed, remaining, reset_us, retry_us = self._script(
                keys=[f"{self._prefix}:{bucket}:{key_id}"], args=[interval_us, per_minute]
            )
        except redis.RedisError as error:
            # Limits are a guard, not a gate: without Redis each replica limits on its own.
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limits counted per process, Redis unavailable: %s", error)
            return self._fallback.hit(bucket, key_id, per_minute)
        return RateDecision(
            bool(allowed), per_minute, int(remaining), reset_us / 1e6, retry_us / 1e6
        )

    def close(self) -> None:
        self._redis.close()


def make_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis buckets when the queue is on Redis, else buckets in this process."""
    if settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(settings.queue_url, f"voicehub:ratelimit:{settings.queue_name}")
    return LocalRateLimiter()
