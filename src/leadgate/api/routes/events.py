"""``GET /v1/events``: live notices as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from leadgate.api.deps import AppDep, StaffDep
from leadgate.services.notify import Hub

router = APIRouter(tags=["events"])

#: A comment line is sent when nothing happened for this long (keeps proxies and
#: the client's connection open, and tells the server when the client has gone).
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/v1/events",
    summary="Live notices (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "An endless `text/event-stream`"}},
)
async def events(app: AppDep, user: StaffDep) -> StreamingResponse:
    """Server-sent events for the caller: an agent receives the notices about
    their own leads (`lead.assigned`), managers and admins every notice
    (`lead.assigned`, `lead.queued`). The stream opens with `event: ready`; a
    comment line keeps it alive every 15 s. Each event's `data` is JSON with the
    lead's short form (`lead`) and the time (`at`). Notices are sent after the
    change is committed, from any server process of the same PostgreSQL
    database; a client that reconnects reads the current state through the API.
    """
    return sse_response(app.notices, user.agent_id, everything=user.is_manager)


def sse_response(hub: Hub, agent_id: int | None, *, everything: bool) -> StreamingResponse:
    """A server-sent event stream of the hub's notices for one watcher (the API's
    ``/v1/events`` and the console's ``/console/events`` share it)."""
    sub = hub.subscribe(agent_id, everything=everything)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "event: ready\ndata: {}\n\n"
            while True:
                try:
                    notice = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {notice.kind}\ndata: {json.dumps(notice.data)}\n\n"
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
