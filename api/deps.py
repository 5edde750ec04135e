"""Request dependencies as `Annotated` aliases: a route's signature reads as a declaration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.problems import IdempotentReplay
from voicehub import idempotency
from voicehub.db import transaction
from voicehub.errors import Forbidden, PayloadTooLarge
from voicehub.runtime import Runtime
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


def get_principal(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    secret = None
    if authorization and authorization.lower().startswith("bearer "):
        secret = authorization[7:].strip()
    return authenticate(session, secret)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


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


StudioRead = Annotated[StudioPrincipal, Depends(studio_scope("read"))]
StudioSynthesize = Annotated[StudioPrincipal, Depends(studio_scope("synthesize"))]
StudioExport = Annotated[StudioPrincipal, Depends(studio_scope("export"))]
StudioBilling = Annotated[StudioPrincipal, Depends(studio_scope("billing"))]
ActorConsent = Annotated[ActorPrincipal, Depends(actor_scope("consent"))]
ActorRead = Annotated[ActorPrincipal, Depends(actor_scope("read"))]


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
