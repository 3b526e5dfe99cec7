"""Embeddable HTML form capture: ``POST /f/{form_key}`` (urlencoded or multipart).

A website posts its form here directly; the lead goes through the same
pipeline as the API, then the browser is redirected to the source's thank-you
URL (with ``?lead=<id>&step=<token>``), or to ``?error=<code>`` on refusal. A
second-step form posting the token back in ``_step`` updates that lead
(services/form_steps.py) instead of creating one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import AppDep
from leadgate.domain.errors import InvalidInput, NotFound
from leadgate.services import deliveries, form_steps, ingest, textsafety
from leadgate.store import models as m

router = APIRouter(tags=["forms"])

RESERVED = {"_redirect", "_idempotency_key", "_step"}


@router.post("/f/{form_key}", summary="Capture a lead from an HTML form post",
             response_class=RedirectResponse, status_code=303)
async def form_post(form_key: str, request: Request, app: AppDep) -> Response:
    form = await request.form()
    payload = {k: v for k, v in form.items() if isinstance(v, str) and k not in RESERVED}
    key = form.get("_idempotency_key")
    step = form.get("_step")
    secret = app.settings.secret_key
    if isinstance(step, str) and step:
        return await _next_step(app, form_key, step, payload)

    def work() -> tuple[ingest.IngestResult, str | None]:
        with app.uow() as uow:
            source = uow.session.scalar(select(m.Source).where(m.Source.form_key == form_key,
                                                               m.Source.active.is_(True)))
            if source is None:
                raise NotFound(f"no form {form_key!r}")
            redirect = source.form_redirect
            try:
                fields = textsafety.clean(payload)
            except textsafety.InvalidBody as exc:
                body = {"code": exc.code, "detail": exc.message, **exc.details()}
                return ingest.IngestResult(422, body, None), redirect
            result = ingest.ingest_lead(uow, source, fields, app.clock(), via="form",
                                        idempotency_key=key if isinstance(key, str) else None)
            return result, redirect

    result, redirect = await run_in_threadpool(work)
    app.wakeup.notify()
    if result.status_code >= 400:
        params = {"error": result.body.get("code", "rejected")}
        reasons = result.body.get("reasons") or []
        if reasons:
            params["reason"] = reasons[0].get("code", "")
    else:
        assert result.lead_id is not None
        params = {"lead": str(result.lead_id),
                  "step": form_steps.make(secret, form_key, result.lead_id, app.clock())}
    return _answer(result.status_code < 400, redirect, params,
                   str(result.body.get("detail", "")))


async def _next_step(app: Any, form_key: str, token: str, payload: dict[str, str]) -> Response:
    """A later step of a multi-step form: merge its fields into the lead of the first."""
    def work() -> tuple[dict[str, Any], str | None]:
        lead_id = form_steps.read(app.settings.secret_key, form_key, token, app.clock())
        with app.uow() as uow:
            source = uow.session.scalar(select(m.Source).where(m.Source.form_key == form_key,
                                                               m.Source.active.is_(True)))
            if source is None:
                raise NotFound(f"no form {form_key!r}")
            out = deliveries.update_lead(uow, source.id, lead_id, textsafety.clean(payload),
                                         app.clock())
            uow.commit()
            return out, source.form_redirect

    try:
        out, redirect = await run_in_threadpool(work)
    except (InvalidInput, form_steps.BadStep) as exc:  # a refused step: back to the page
        with app.reader() as uow:
            redirect = uow.session.scalar(select(m.Source.form_redirect).where(
                m.Source.form_key == form_key, m.Source.active.is_(True)))
        if redirect is None and not isinstance(exc, form_steps.BadStep):
            raise
        return _answer(False, redirect, {"error": exc.code}, str(exc))
    app.wakeup.notify()
    return _answer(True, redirect, {"lead": str(out["id"]), "step": token}, "")


def _answer(ok: bool, redirect: str | None, params: dict[str, str], detail: str) -> Response:
    if not redirect:
        text = "Thank you, we will be in touch shortly." if ok else \
            "Sorry, we could not accept this form: " + detail
        return HTMLResponse(f"<!doctype html><title>leadgate</title><p>{_escape(text)}</p>",
                            status_code=200 if ok else 422)
    sep = "&" if "?" in redirect else "?"
    return RedirectResponse(f"{redirect}{sep}{urlencode(params)}", status_code=303)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
