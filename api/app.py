"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text

from api import problems
from api.deps import RuntimeDep, install_rate_limit_answer
from api.portal import routes as portal
from api.routers import (
    actor,
    admin,
    approvals,
    billing,
    builds,
    engines,
    events,
    exports,
    identify,
    jobs,
    keys,
    platform,
    projects,
    statements,
    studio,
    takes,
    usage,
    voices,
    webhooks,
)
from voicehub import __version__
from voicehub.runtime import Runtime, activate, build_runtime
from voicehub.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    """The VoiceHub API. Engines load in the lifespan (once), never at import.

    `run_worker` starts a queue consumer inside the process (the embedded
    setup); it defaults to `settings.embedded_worker`.
    """
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_runtime = runtime is None
        rt = runtime or build_runtime(settings)
        activate(rt)
        app.state.runtime = rt
        consumer = None
        if run_worker if run_worker is not None else settings.embedded_worker:
            consumer = rt.queue.embedded_consumer()
            consumer.start()
            log.info("embedded queue consumer started")
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
            if owned_runtime:
                rt.close()

    app = FastAPI(
        title="VoiceHub API",
        version=__version__,
        summary="Consented voices, metered lines, lip-sync timing per cut.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    problems.install(app)
    install_rate_limit_answer(app)
    for module in (
        voices,
        projects,
        takes,
        approvals,
        jobs,
        exports,
        usage,
        events,
        webhooks,
        actor,
        builds,
        studio,
        platform,
        engines,
        billing,
        statements,
        identify,
        keys,
        admin,
    ):
        app.include_router(module.router)
    portal.install(app)

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    def healthz(rt: RuntimeDep) -> dict[str, str]:
        with rt.database.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
