"""Live notices over server-sent events, from real ``serve`` processes."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import WEBSITE_KEY, apply_setup, create_users, make_app
from tests.e2e.servers import servers

LEAD_HEADERS = {"Authorization": f"Bearer {WEBSITE_KEY}", "Content-Type": "application/json"}


class Listener:
    """Reads one SSE stream in a thread; events land in a queue."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()
        assert self.ready.wait(15), "the event stream did not open"

    def _run(self, url: str, token: str) -> None:
        try:
            self._read(url, token)
        except httpx.HTTPError:
            if not self._stop:  # the server going away after the test is expected
                raise

    def _read(self, url: str, token: str) -> None:
        kind = None
        with httpx.Client(timeout=httpx.Timeout(60, read=60)) as client, client.stream(
                "GET", f"{url}/v1/events", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    if kind == "ready":
                        self.ready.set()
                    else:
                        self.events.put((kind, json.loads(line[6:])))
                    kind = None

    def next(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._stop = True


def post(url: str, i: int) -> dict[str, Any]:
    body = {"first_name": "Asha", "phone": f"+91 96{i:08d}", "city": "Mumbai",
            "product": "health"}
    r = httpx.post(f"{url}/v1/leads", content=json.dumps(body), headers=LEAD_HEADERS,
                   timeout=30)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_rep_hears_of_their_own_new_lead_at_once_and_of_no_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = make_app(url)
    apply_setup(app)
    tokens = create_users(app)
    app.close()
    with servers(url, 1, tmp_path) as (server,):
        a1 = Listener(server.url, tokens["a1"])
        try:
            answers = [post(server.url, i) for i in range(4)]  # round robin: a1..a4
            mine = [a for a in answers if a["assignee"]["key"] == "a1"]
            assert len(mine) == 1
            t0 = time.monotonic()
            kind, data = a1.next()
            assert kind == "lead.assigned"
            assert data["lead"]["id"] == mine[0]["id"]
            assert time.monotonic() - t0 < 10
            with pytest.raises(queue.Empty):  # a2..a4's leads are not a1's business
                a1.next(timeout=1.0)
        finally:
            a1.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_manager_on_one_server_hears_of_leads_taken_by_another(pg_url: str,
                                                                 tmp_path: Path) -> None:
    app = make_app(pg_url)
    apply_setup(app)
    tokens = create_users(app)
    app.close()
    with servers(pg_url, 2, tmp_path) as (one, two):
        boss = Listener(two.url, tokens["manager"])
        try:
            sent = [post(one.url, 100 + i)["id"] for i in range(3)]
            heard = []
            for _ in range(3):
                kind, data = boss.next()
                assert kind == "lead.assigned"
                heard.append(data["lead"]["id"])
            assert sorted(heard) == sorted(sent)
        finally:
            boss.close()
