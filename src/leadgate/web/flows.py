"""Console pages for flows (managers): the list, and one flow's page with the
YAML draft editor, a readable rendering of the rules, the vocabulary, the
versions (restore), testing one lead and simulating the draft on history.

The pages only parse form text (YAML, ``key: value`` lines, numbers) and call
``leadgate.services.flows``; validation and every change happen there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import MAX_ID
from leadgate.domain.errors import InvalidConfig, InvalidInput, NotFound
from leadgate.domain.routing import vocabulary
from leadgate.services import flows, textsafety
from leadgate.web.auth import ConsoleUser, CoreDep, ManagerDep, ReaderDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, parse_yaml_mapping, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

MAX_SPEC = 200_000
MAX_SINCE_DAYS = 3660.0
POOL_KEYS = ("team", "agents", "agent", "agent_field", "queue")
WORDS = {"eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of",
         "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "between": "between",
         "contains": "contains", "starts_with": "starts with", "regex": "matches",
         "exists": "exists"}


# --- readable rendering (presentation only) ---------------------------------

def _operand(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_operand(x) for x in v) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_operand(x)}" for k, x in v.items())
    return str(v)


def condition_words(cond: Any, nested: bool = False) -> str:
    """``{all: [{field: city, eq: Mumbai}, ...]}`` -> ``city eq Mumbai AND ...``."""
    if cond in (None, {}, True):
        return "always"
    if not isinstance(cond, dict):
        return str(cond)
    for name, joiner in (("all", " AND "), ("any", " OR ")):
        if name in cond and isinstance(cond[name], list):
            text = joiner.join(condition_words(c, True) for c in cond[name]) or "always"
            return f"({text})" if nested and len(cond[name]) > 1 else text
    if "not" in cond:
        return f"NOT ({condition_words(cond['not'])})"
    field = cond.get("field", "?")
    ops = [k for k in cond if k != "field"]
    if not ops:
        return str(field)
    op = ops[0]
    if op == "exists":
        return f"{field} exists" if cond[op] else f"{field} is missing"
    return f"{field} {op} {_operand(cond[op])}"


def target_words(target: Any) -> dict[str, str]:
    """Pool, method and the method's options of a rule target or fallback."""
    if not isinstance(target, dict):
        return {"pool": _operand(target), "method": "", "options": ""}
    pool = "; ".join(f"{k} {_operand(target[k])}" for k in POOL_KEYS if k in target)
    rest = {k: v for k, v in target.items() if k not in (*POOL_KEYS, "method")}
    return {"pool": pool or "—", "method": str(target.get("method") or ""),
            "options": _operand(rest) if rest else ""}


def readable(spec: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for i, r in enumerate(spec.get("rules") or []):
        if not isinstance(r, dict):
            continue
        rules.append({"index": i + 1, "name": r.get("name") or f"rule {i + 1}",
                      "when": condition_words(r.get("when")),
                      "when_nobody": r.get("when_nobody", "next"),
                      **target_words(r.get("to"))})
    fallback = spec.get("fallback")
    return {"rules": rules, "fallback": target_words(fallback) if fallback else None}


def spec_yaml(spec: dict[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k != "key"}
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)


# --- pages -------------------------------------------------------------------

@router.get("/flows")
def flows_page(request: Request, uow: ReaderDep, user: ManagerDep) -> Response:
    """Every flow with its published version and rule count."""
    return render(request, "flows.html", {"flows": flows.list_flows(uow)}, user=user)


def _flow_page(request: Request, uow: Any, user: ConsoleUser, key: str, *,
               status_code: int = 200, **extra: Any) -> Response:
    view = flows.flow_view(uow, key)
    draft = view["draft"] or {}
    published = next((v for v in view["versions"]
                      if v["version"] == view["published_version"]), None)
    ctx: dict[str, Any] = {
        "flow": view, "readable": readable(draft),
        "published_readable": readable(published["spec"]) if published else None,
        "draft_differs": published is not None and published["spec"] != draft,
        "yaml_text": spec_yaml(draft), "vocab": vocabulary(), "errors": [],
        "test": None, "test_error": None, "test_form": {"lead": "", "lead_id": "",
                                                        "which": "draft"},
        "sim": None, "sim_error": None, "since_days": "30", "saved": None,
    }
    ctx.update(extra)
    return render(request, "flow.html", ctx, user=user, status_code=status_code)


@router.get("/flows/{key}")
def flow_page(request: Request, key: str, uow: ReaderDep, user: ManagerDep,
              saved: str | None = None) -> Response:
    """One flow: editor, readable rules, vocabulary, versions, test and simulate."""
    note = {"draft": "Draft saved.", "published": "Published.",
            "restored": "Restored and published."}.get(saved or "")
    return _flow_page(request, uow, user, key, saved=note)


def _parse_spec(text: str) -> dict[str, Any]:
    return parse_yaml_mapping(text, "the flow must be a mapping with rules: and fallback:")


@router.post("/flows/{key}/save")
def save_flow(request: Request, key: str, uow: WriterDep, core: CoreDep, user: ManagerDep,
              spec: Annotated[str, Form(max_length=MAX_SPEC)] = "",
              action: Annotated[str, Form(max_length=16)] = "draft") -> Response:
    """Save the YAML as the draft (and publish it with ``action=publish``)."""
    publish = action == "publish"
    try:
        flows.save_draft(uow, user.principal, key, _parse_spec(spec), core.clock(),
                         publish=publish)
    except InvalidConfig as exc:
        uow.rollback()
        return _flow_page(request, uow, user, key, status_code=422, yaml_text=spec,
                          errors=[{"path": p or "(flow)", "message": m}
                                  for p, m in exc.errors])
    core.wakeup.notify()
    return RedirectResponse(f"/console/flows/{key}?saved={'published' if publish else 'draft'}",
                            status_code=303)


@router.post("/flows/{key}/publish")
def publish_flow(key: str, uow: WriterDep, core: CoreDep, user: ManagerDep) -> Response:
    """Publish the current draft as a new version."""
    flows.publish(uow, user.principal, key, core.clock())
    core.wakeup.notify()
    return RedirectResponse(f"/console/flows/{key}?saved=published", status_code=303)


@router.post("/flows/{key}/restore")
def restore_flow(key: str, uow: WriterDep, core: CoreDep, user: ManagerDep,
                 version: Annotated[int, Form(ge=1, le=MAX_ID)]) -> Response:
    """Publish an earlier version again (as a new version)."""
    flows.restore(uow, user.principal, key, version, core.clock())
    core.wakeup.notify()
    return RedirectResponse(f"/console/flows/{key}?saved=restored", status_code=303)


def _parse_lead(text: str) -> dict[str, Any]:
    """JSON or ``key: value`` lines (both are YAML) into a mapping of facts."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or not data:
        raise InvalidInput("give the lead as JSON or as key: value lines (one per line)",
                           code="invalid_request")
    facts: dict[str, Any] = textsafety.clean({str(k): v for k, v in data.items()})
    return facts


@router.post("/flows/{key}/test")
def test_flow(request: Request, key: str, uow: ReaderDep, core: CoreDep, user: ManagerDep,
              lead: Annotated[str, Form(max_length=20_000)] = "",
              lead_id: Annotated[str, Form(max_length=20)] = "",
              which: Annotated[str, Form(max_length=16)] = "draft") -> Response:
    """Run one lead (typed in, or an existing lead id) through the draft or the
    published flow; nothing is assigned."""
    form = {"lead": lead, "lead_id": lead_id, "which": which}
    try:
        if which not in ("draft", "published"):
            raise InvalidInput("choose draft or published", code="invalid_request")
        ident = lead_id.strip().lstrip("#")
        if ident:
            if not ident.isdigit() or int(ident) > MAX_ID:
                raise InvalidInput(f"lead id {lead_id!r} is not a number",
                                   code="invalid_request")
            result = flows.try_lead(uow, user.principal, key, core.clock(),
                                    lead_id=int(ident), which=which)
        else:
            result = flows.try_lead(uow, user.principal, key, core.clock(),
                                    lead=_parse_lead(lead), which=which)
    except (InvalidInput, NotFound) as exc:
        return _flow_page(request, uow, user, key, status_code=422, test_form=form,
                          test_error=_message(exc))
    return _flow_page(request, uow, user, key, test=result, test_form=form)


@router.post("/flows/{key}/simulate")
def simulate_flow(request: Request, key: str, uow: ReaderDep, core: CoreDep,
                  user: ManagerDep,
                  since_days: Annotated[str, Form(max_length=12)] = "30") -> Response:
    """Replay the last N days of leads through the draft and compare with what happened."""
    user.principal.require_manager()
    try:
        try:
            days = float(since_days.strip())
        except ValueError:
            raise InvalidInput(f"{since_days!r} is not a number of days",
                               code="invalid_request") from None
        if not 0 < days <= MAX_SINCE_DAYS:
            raise InvalidInput(f"days must be more than 0 and at most {MAX_SINCE_DAYS:g}",
                               code="invalid_request")
        report = flows.simulate_history(uow, user.principal, key, timedelta(days=days),
                                        core.clock())
    except InvalidInput as exc:
        return _flow_page(request, uow, user, key, status_code=422, since_days=since_days,
                          sim_error=_message(exc))
    return _flow_page(request, uow, user, key, sim=report, since_days=since_days)


def _message(exc: InvalidInput | NotFound) -> str:
    if isinstance(exc, InvalidConfig) and exc.errors:
        return "; ".join(f"{p}: {m}" if p else m for p, m in exc.errors)
    return exc.message
