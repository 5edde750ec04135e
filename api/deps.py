"""Request dependencies as `Annotated` aliases: a route's signature reads as a declaration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.problems import IdempotentReplay, problem
from voicehub import idempotency
from voicehub.audit import service as audit_log
from voicehub.db import transaction
from voicehub.errors import Forbidden, PayloadTooLarge, RateLimited
from voicehub.runtime import Runtime
from voicehub.tenancy.keys import RateLimiter, make_rate_limiter
from voicehub.tenancy.service import Principal, authenticate

# Dependencies that do no I/O are `async def`: FastAPI runs them on the event
# loop instead of hopping to a worker thread, which costs more than they do.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """The request's transaction: committed when the handler returns, rolled back on error.

    `scope="function"` (below) commits before the response is sent, so a client
    never sees success for work that did not commit.
    """
    with transaction(runtime.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_rate_limiter(request: Request, runtime: RuntimeDep) -> RateLimiter:
    """The app's rate limiter, made on first use (Redis buckets shared by every replica).

    Made on the event loop, so two first requests cannot make two.
    """
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is None:
        limiter = make_rate_limiter(runtime.settings)
        state.rate_limiter = limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def enforce_rate_limit(
    limiter: RateLimiter, response: Response, key_id: str, bucket: str, per_minute: int
) -> None:
    """Draw one request from the key's bucket: RateLimit headers on the answer, or a 429."""
    if per_minute <= 0:
        return
    decision = limiter.hit(bucket, key_id, per_minute)
    if not decision.allowed:
        noun = "synthesis requests" if bucket == "synthesis" else "requests"
        raise RateLimited(
            f"This API key may make {per_minute} {noun} a minute; retry after"
            f" {decision.headers()['Retry-After']} s.",
            headers=decision.headers(),
            limit=per_minute,
            bucket=bucket,
        )
    response.headers.update(decision.headers())


def get_principal(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    limiter: RateLimiterDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller, within its key's rate limit; the audit log attributes this request to it."""
    secret = None
    if authorization and authorization.lower().startswith("bearer "):
        secret = authorization[7:].strip()
    principal = authenticate(session, secret)
    enforce_rate_limit(
        limiter,
        response,
        principal.key_id,
        "requests",
        runtime.settings.rate_limit_requests_per_minute,
    )
    audit_log.bind(
        session,
        audit_log.AuditContext(
            source="api",
            key_id=principal.key_id,
            studio_id=principal.studio_id,
            actor_id=principal.actor_id,
            request_id=(request.headers.get("x-request-id") or "")[:128] or None,
            ip=request.client.host if request.client else None,
        ),
    )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def install_rate_limit_answer(app: FastAPI) -> None:
    """A 429 carries Retry-After and the RateLimit headers with its problem details."""

    async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RateLimited)
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.headers, **exc.extra)

    app.add_exception_handler(RateLimited, _rate_limited)


@dataclass(frozen=True)
class StudioPrincipal:
    studio_id: str
    principal: Principal


@dataclass(frozen=True)
class ActorPrincipal:
    actor_id: str
    principal: Principal


def studio_scope(scope: str) -> Callable[[Principal], Awaitable[StudioPrincipal]]:
    async def dependency(principal: PrincipalDep) -> StudioPrincipal:
        if principal.studio_id is None:
            raise Forbidden("This endpoint needs a studio's API key.", scope=scope)
        principal.require(scope)
        return StudioPrincipal(principal.studio_id, principal)

    return dependency


def actor_scope(scope: str) -> Callable[[Principal], Awaitable[ActorPrincipal]]:
    async def dependency(principal: PrincipalDep) -> ActorPrincipal:
        if principal.actor_id is None:
            raise Forbidden("This endpoint needs an actor's or agency's API key.", scope=scope)
        principal.require(scope)
        return ActorPrincipal(principal.actor_id, principal)

    return dependency


def synthesis_caller(
    caller: Annotated[StudioPrincipal, Depends(studio_scope("synthesize"))],
    response: Response,
    runtime: RuntimeDep,
    limiter: RateLimiterDep,
) -> StudioPrincipal:
    """A `synthesize` request also draws on the key's smaller synthesis bucket."""
    enforce_rate_limit(
        limiter,
        response,
        caller.principal.key_id,
        "synthesis",
        runtime.settings.rate_limit_synthesis_per_minute,
    )
    return caller


async def admin_caller(principal: PrincipalDep) -> Principal:
    """The platform operator; any studio's or actor's key is refused, whatever its scopes."""
    if not principal.is_admin:
        raise Forbidden("This endpoint needs a platform operator's admin key.", scope="admin")
    return principal


async def keys_caller(principal: PrincipalDep) -> Principal:
    """A studio or actor managing its own keys (the `keys` scope); admin keys are refused."""
    if principal.studio_id is None and principal.actor_id is None:
        raise Forbidden("This endpoint needs a studio's or an actor's API key.", scope="keys")
    principal.require("keys")
    return principal


StudioRead = Annotated[StudioPrincipal, Depends(studio_scope("read"))]
StudioSynthesize = Annotated[StudioPrincipal, Depends(synthesis_caller)]
StudioExport = Annotated[StudioPrincipal, Depends(studio_scope("export"))]
StudioBilling = Annotated[StudioPrincipal, Depends(studio_scope("billing"))]
ActorConsent = Annotated[ActorPrincipal, Depends(actor_scope("consent"))]
ActorRead = Annotated[ActorPrincipal, Depends(actor_scope("read"))]
AdminCaller = Annotated[Principal, Depends(admin_caller)]
KeysCaller = Annotated[Principal, Depends(keys_caller)]


@dataclass
class Idempotency:
    """The request's Idempotency-Key, if any, and its fingerprint."""

    key: str | None
    fingerprint: str

    def replay_or_continue(self, session: Session, principal: Principal) -> None:
        """Answer with the first response if this key was seen; 409 if it was another request."""
        if self.key is None:
            return
        stored = idempotency.replay(session, principal.key_id, self.key, self.fingerprint)
        if stored is not None:
            headers = {str(k): str(v) for k, v in stored.response.get("headers", {}).items()}
            raise IdempotentReplay(stored.status_code, stored.response["body"], headers)

    def remember(
        self,
        session: Session,
        principal: Principal,
        status_code: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        if self.key is None:
            return
        idempotency.remember(
            session,
            principal.key_id,
            self.key,
            self.fingerprint,
            status_code,
            {"body": body, "headers": headers or {}},
        )


async def get_raw_body(request: Request, runtime: RuntimeDep) -> bytes:
    """The request body as bytes, read without blocking a worker thread, within the size limit.

    A declared Content-Length over the limit is refused before anything is read;
    a body streamed without one is cut off as soon as it passes the limit.
    """
    limit = runtime.settings.max_upload_bytes
    too_large = PayloadTooLarge(
        f"The request body is over the limit of {limit} bytes.", limit=limit
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(get_raw_body)]


async def get_idempotency(
    request: Request, body: RawBody, idempotency_key: Annotated[str | None, Header()] = None
) -> Idempotency:
    return Idempotency(
        key=idempotency_key,
        fingerprint=idempotency.fingerprint(
            request.method, request.url.path + "?" + request.url.query, body
        ),
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
