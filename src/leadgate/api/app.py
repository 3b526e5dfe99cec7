"""The FastAPI application: ``create_app(settings)`` builds API, console and worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from leadgate import __version__
from leadgate.api import errors
from leadgate.api.limits import BodyLimit
from leadgate.api.routes import agents, deliveries, flows, forms, gatekeeper, leads, system
from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings
from leadgate.services import handlers  # registers the job handlers
from leadgate.services.jobs import Worker
from leadgate.web import console


def create_app(settings: Settings | None = None, *, app: App | None = None,
               worker: bool | None = None) -> FastAPI:
    core = app or bootstrap(settings)
    run_worker = core.settings.embedded_worker if worker is None else worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        w = None
        if run_worker:
            w = Worker(core.uow, core.clock, core.wakeup.event,
                       core.settings.worker_poll_seconds,
                       periodic=[(handlers.RETRY_EVERY_SECONDS, handlers.schedule_queue_retry)])
            w.start()
        try:
            yield
        finally:
            if w is not None:
                w.stop()

    api = FastAPI(
        title="leadgate",
        version=__version__,
        summary="Lead distribution engine: capture, qualify, route, deliver and track leads.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    api.state.leadgate = core
    errors.install(api)
    for module in (leads, gatekeeper, agents, flows, forms, system, deliveries):
        api.include_router(module.router)
    console.install(api, core)
    api.add_middleware(BodyLimit, max_bytes=core.settings.max_body_bytes)
    return api
