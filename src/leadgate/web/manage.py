"""Console pages for people and data: agents (with status toggles), teams, import."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from leadgate.services import agents, configure, importer
from leadgate.web.auth import (
    ConsoleUser,
    CoreDep,
    ManagerDep,
    ReaderDep,
    UserDep,
    WriterDep,
    check_csrf,
)
from leadgate.web.render import ConsoleRoute, is_htmx, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

STATUS_CHOICES = agents.STATUSES


def _can_toggle(user: ConsoleUser, agent_key: str) -> bool:
    return user.is_manager or user.agent_key == agent_key


@router.get("/agents")
def agents_page(request: Request, uow: ReaderDep, user: UserDep,
                team: str | None = None) -> Response:
    """Agents with their teams, status and open leads; status buttons where allowed."""
    rows = agents.list_agents(uow, team or None)
    return render(request, "agents.html",
                  {"agents": rows, "team": team or "", "teams": agents.list_teams(uow),
                   "statuses": STATUS_CHOICES, "can_toggle": lambda k: _can_toggle(user, k)},
                  user=user)


@router.post("/agents/{key}/status")
def set_agent_status(request: Request, key: str, uow: WriterDep, core: CoreDep,
                     user: UserDep,
                     status: Annotated[str, Form(max_length=16)]) -> Response:
    """Change an agent's status (HTMX swaps the row; a plain form goes back to the list)."""
    agents.set_status(uow, user.principal, key, status, core.clock())
    core.wakeup.notify()
    if not is_htmx(request):
        return RedirectResponse("/console/agents", status_code=303)
    counts = {a["key"]: a for a in agents.list_agents(uow)}
    return render(request, "_agent_row.html",
                  {"a": counts[key], "statuses": STATUS_CHOICES, "can_toggle": True},
                  user=user)


@router.get("/teams")
def teams_page(request: Request, uow: ReaderDep, user: UserDep) -> Response:
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
