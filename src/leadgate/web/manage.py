"""Console pages for people and data: agents (with status toggles and a settings
editor), teams, import."""

from __future__ import annotations

import base64
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from leadgate.domain.errors import InvalidConfig
from leadgate.services import agents, configure, importer
from leadgate.web.auth import (
    ConsoleUser,
    CoreDep,
    ManagerDep,
    ReaderDep,
    StaffDep,
    WriterDep,
    check_csrf,
)
from leadgate.web.render import ConsoleRoute, is_htmx, parse_yaml_mapping, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

STATUS_CHOICES = agents.STATUSES
MAX_SETTINGS = 100_000


def _can_toggle(user: ConsoleUser, agent_key: str) -> bool:
    return user.is_manager or user.agent_key == agent_key


@router.get("/agents")
def agents_page(request: Request, uow: ReaderDep, user: StaffDep,
                team: str | None = None) -> Response:
    """Agents with their teams, status and open leads; status buttons where allowed."""
    rows = agents.list_agents(uow, team or None)
    return render(request, "agents.html",
                  {"agents": rows, "team": team or "", "teams": agents.list_teams(uow),
                   "statuses": STATUS_CHOICES, "can_toggle": lambda k: _can_toggle(user, k),
                   "can_edit": user.is_manager},
                  user=user)


def settings_yaml(settings: dict[str, Any]) -> str:
    return yaml.safe_dump(settings, sort_keys=False, allow_unicode=True,
                          default_flow_style=False)


def settings_summary(settings: dict[str, Any]) -> dict[str, str]:
    """The settings that decide when an agent gets leads, in short words."""
    def join(v: Any) -> str:
        return ", ".join(str(x) for x in v) if v else "—"

    zone = str(settings.get("timezone") or "UTC")
    hours = settings.get("working_hours")
    caps = settings.get("capacity") or {}
    off = settings.get("time_off") or []
    return {
        "Time zone": str(settings.get("timezone") or "UTC"),
        "Working hours": ("; ".join(f"{d} {h}" for d, h in hours.items()) if hours
                          else "always (no working hours set)"),
        "Public holidays": str(settings.get("holidays") or "none"),
        "Time off": "; ".join(_period(p, zone) for p in off) or "none",
        "Caps": ", ".join(f"{k} {v}" for k, v in caps.items()) or "no caps",
        "Teams": join(settings.get("teams")),
        "Languages": join(settings.get("languages")),
        "Skills": join(settings.get("skills")),
        "Territories": join(settings.get("territories")),
        "Tier": str(settings.get("tier") or "—"),
    }


def _period(period: Any, zone: str) -> str:
    """A stored time-off period (UTC ISO pair) in the agent's local time."""
    try:
        tz = ZoneInfo(zone)
        start, end = (datetime.fromisoformat(x).astimezone(tz) for x in period)
    except (TypeError, ValueError, ZoneInfoNotFoundError):
        return str(period)
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} ({zone})"


def _settings_page(request: Request, uow: Any, user: ConsoleUser, key: str, *,
                   status_code: int = 200, **extra: Any) -> Response:
    agent = agents.get_agent(uow, key)
    settings = agents.agent_settings(agent)
    ctx: dict[str, Any] = {"agent": agents.agent_view(agent), "summary":
                           settings_summary(settings), "yaml_text": settings_yaml(settings),
                           "errors": [], "saved": None}
    ctx.update(extra)
    return render(request, "agent.html", ctx, user=user, status_code=status_code)


@router.get("/agents/{key}")
def agent_settings_page(request: Request, key: str, uow: ReaderDep,
                        user: ManagerDep, saved: str | None = None) -> Response:
    """One agent's routing settings: a readable summary and the YAML editor."""
    return _settings_page(request, uow, user, key,
                          saved="Settings saved." if saved else None)


def _parse_settings(text: str) -> dict[str, Any]:
    return parse_yaml_mapping(
        text, "the settings must be a mapping (name:, teams:, timezone: ...)", empty_ok=True)


@router.post("/agents/{key}/settings")
def save_agent_settings(request: Request, key: str, uow: WriterDep, core: CoreDep,
                        user: ManagerDep,
                        settings: Annotated[str, Form(max_length=MAX_SETTINGS)] = ""
                        ) -> Response:
    """Save the YAML settings; errors come back next to their paths, text kept."""
    try:
        agents.update_agent(uow, user.principal, key, _parse_settings(settings),
                            core.clock())
    except InvalidConfig as exc:
        uow.rollback()
        return _settings_page(request, uow, user, key, status_code=422, yaml_text=settings,
                              errors=[{"path": p or "(settings)", "message": msg}
                                      for p, msg in exc.errors])
    core.wakeup.notify()
    return RedirectResponse(f"/console/agents/{key}?saved=1", status_code=303)


@router.post("/agents/{key}/status")
def set_agent_status(request: Request, key: str, uow: WriterDep, core: CoreDep,
                     user: StaffDep,
                     status: Annotated[str, Form(max_length=16)]) -> Response:
    """Change an agent's status (HTMX swaps the row; a plain form goes back to the list)."""
    agents.set_status(uow, user.principal, key, status, core.clock())
    core.wakeup.notify()
    if not is_htmx(request):
        return RedirectResponse("/console/agents", status_code=303)
    counts = {a["key"]: a for a in agents.list_agents(uow)}
    return render(request, "_agent_row.html",
                  {"a": counts[key], "statuses": STATUS_CHOICES, "can_toggle": True,
                   "can_edit": user.is_manager},
                  user=user)


@router.get("/teams")
def teams_page(request: Request, uow: ReaderDep, user: StaffDep) -> Response:
    """Teams and their members."""
    return render(request, "teams.html", {"teams": agents.list_teams(uow)}, user=user)


def _sources(uow: Any) -> list[dict[str, Any]]:
    return list(configure.export(uow).get("sources", []))


@router.get("/import")
def import_form(request: Request, uow: ReaderDep, user: ManagerDep) -> Response:
    """The upload form: a CSV or Excel file and the source it came from."""
    return render(request, "import.html", {"sources": _sources(uow), "report": None},
                  user=user)


@router.post("/import")
def import_upload(request: Request, uow: ReaderDep, core: CoreDep, user: ManagerDep,
                  file: Annotated[UploadFile, File()],
                  source: Annotated[str, Form(max_length=64)]) -> Response:
    """Run the importer on the upload and show what happened to each row."""
    sources = _sources(uow)
    name = file.filename or "upload.csv"
    data = file.file.read()
    _, rows, count = importer.read_rows(name, data)
    report = importer.import_rows(core.uow, source, rows, core.clock)
    core.wakeup.notify()
    rejects_href = None
    if report.rejected:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rejected.csv"
            report.write_rejects(path)
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        # a data: URL keeps the report stateless (any process can serve the page)
        rejects_href = "data:text/csv;charset=utf-8;base64," + encoded
    stem = Path(name).stem or "import"
    return render(request, "import.html",
                  {"sources": sources, "report": report, "file_name": name, "rows": count,
                   "source": source, "rejects_href": rejects_href,
                   "rejects_name": f"{stem}-rejected.csv"}, user=user)
