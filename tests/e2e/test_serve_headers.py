"""What a real ``leadgate serve`` tells clients about itself in its headers."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.conftest import WEBSITE_KEY, apply_setup, make_app
from tests.e2e.servers import Server


def test_answers_carry_security_headers_and_no_server_banner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    app = make_app(url)
    try:
        apply_setup(app)
    finally:
        app.close()
    server = Server(url, log=tmp_path / "serve.log")
    try:
        lead = {"first_name": "Asha", "phone": "+91 9812345678", "city": "Mumbai",
                "product": "health", "email": "asha@example.com"}
        answers = [
            httpx.get(f"{server.url}/healthz", timeout=10),
            httpx.post(f"{server.url}/v1/leads", json=lead, timeout=10,
                       headers={"Authorization": f"Bearer {WEBSITE_KEY}"}),
        ]
    finally:
        server.stop()
    assert [r.status_code for r in answers] == [200, 201]
    for r in answers:
        assert "server" not in r.headers  # uvicorn's banner is off
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "date" in r.headers
