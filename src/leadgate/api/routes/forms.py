"""Embeddable HTML form capture: ``POST /f/{form_key}`` (urlencoded or multipart).

A website posts its form here directly; the lead goes through the same
pipeline as the API, then the browser is redirected to the source's thank-you
URL (with ``?lead=<id>``), or to ``?error=<code>`` on refusal.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import AppDep
from leadgate.domain.errors import NotFound
from leadgate.services import ingest, textsafety
from leadgate.store import models as m

router = APIRouter(tags=["forms"])

RESERVED = {"_redirect", "_idempotency_key"}


@router.post("/f/{form_key}", summary="Capture a lead from an HTML form post",
             response_class=RedirectResponse, status_code=303)
async def form_post(form_key: str, request: Request, app: AppDep) -> Response:
    form = await request.form()
    payload = {k: v for k, v in form.items() if isinstance(v, str) and k not in RESERVED}
    key = form.get("_idempotency_key")

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
        params = {"lead": str(result.lead_id)}
    if not redirect:
        ok = result.status_code < 400
        text = "Thank you, we will be in touch shortly." if ok else \
            "Sorry, we could not accept this form: " + str(result.body.get("detail", ""))
        return HTMLResponse(f"<!doctype html><title>leadgate</title><p>{_escape(text)}</p>",
                            status_code=200 if ok else 422)
    sep = "&" if "?" in redirect else "?"
    return RedirectResponse(f"{redirect}{sep}{urlencode(params)}", status_code=303)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
