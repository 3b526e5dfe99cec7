"""The FastAPI application: ``create_app(settings)`` builds API, console and worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from leadgate import __version__
from leadgate.api import errors, openapi
from leadgate.api.fastlane import LeadgateAPI
from leadgate.api.headers import SecurityHeaders
from leadgate.api.jsonguard import JsonGuard
from leadgate.api.limits import BodyLimit
from leadgate.api.params import guard_params
from leadgate.api.routes import (
    agents,
    deliveries,
    events,
    flows,
    forms,
    gatekeeper,
    leads,
    market,
    system,
    work,
)
from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings
from leadgate.services import handlers  # registers the job handlers
from leadgate.services.jobs import Worker, default_threads
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
                       periodic=[(handlers.RETRY_EVERY_SECONDS, handlers.schedule_queue_retry)],
                       threads=core.settings.worker_threads
                       or default_threads(core.engine.dialect.name))
            w.start()
        try:
            yield
        finally:
            if w is not None:
                w.stop()

    api = LeadgateAPI(
        title="leadgate",
        version=__version__,
        summary="Lead distribution engine: capture, qualify, route, deliver and track leads.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        # FastAPI's built-in OpenTelemetry looks up the global providers (reading the
        # environment) on every request; leadgate configures none, so it is switched off
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api.state.leadgate = core
    errors.install(api)
    for module in (leads, gatekeeper, agents, flows, forms, system, deliveries, events, work,
                   market):
        api.include_router(module.router, dependencies=[Depends(guard_params)])
    console.install(api, core)
    openapi.install(api)
    api.add_middleware(JsonGuard)
    api.add_middleware(BodyLimit, max_bytes=core.settings.max_body_bytes)
    api.add_middleware(SecurityHeaders, hsts=core.settings.cookie_secure)
    # POST /v1/leads skips the layers above (api/fastlane.py), doing what they do
    api.max_body_bytes = core.settings.max_body_bytes
    api.hsts = core.settings.cookie_secure
    return api
