"""Real local receivers for delivery tests (127.0.0.1 only): an HTTP server
whose answers a test scripts, run in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, str | bytes | dict[str, Any] | list[Any]]


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    #: called with each request, returns (status, body); default 200 {"ok": true}
    answer: Callable[[Received], Answer] = lambda r: (200, {"ok": True})


@contextmanager
def http_receiver(answer: Callable[[Received], Answer] | None = None) -> Iterator[Receiver]:
    lock = threading.Lock()
    rec = Receiver(url="")
    if answer is not None:
        rec.answer = answer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            r = Received(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
            with lock:
                rec.requests.append(r)
            status, out = rec.answer(r)
            data = (json.dumps(out).encode() if isinstance(out, dict | list)
                    else out.encode() if isinstance(out, str) else out)
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(out, dict | list)
                             else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
