"""Errors as RFC 9457 problem details, each with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from voicehub.errors import VoiceHubError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:voicehub:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class IdempotentReplay(Exception):
    """Raised to answer a replayed Idempotency-Key with the first response."""

    def __init__(self, status_code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.body = body
        self.headers = headers


_HTTP_CODES = {
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(VoiceHubError)
    async def _business(_: Request, exc: VoiceHubError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        extra = dict(exc.extra)
        if "fields" in extra:
            extra["fields"] = [
                item if isinstance(item, dict) else {"field": item, "message": exc.detail}
                for item in extra["fields"]
            ]
        return problem(exc.status, exc.code, exc.title, exc.detail, headers, **extra)

    @app.exception_handler(IdempotentReplay)
    async def _replay(_: Request, exc: IdempotentReplay) -> JSONResponse:
        return JSONResponse(
            exc.body,
            status_code=exc.status_code,
            headers={**exc.headers, "Idempotent-Replayed": "true"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        return problem(
            422,
            "validation_error",
            "Invalid request",
            "The request has invalid fields.",
            fields=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, code.replace("_", " ").capitalize(), str(exc.detail))

    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return problem(
            503,
            "database_unavailable",
            "Database unavailable",
            "The database cannot be reached; retry shortly.",
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal_error", "Internal error", "Something went wrong on our side.")
