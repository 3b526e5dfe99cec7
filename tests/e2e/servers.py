"""Start real ``leadgate serve`` processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, db_url: str, port: int | None = None, *, worker: bool = True,
                 log: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LEADGATE_ENVIRONMENT": "test", "LEADGATE_POOL_SIZE": "10"}
        args = [sys.executable, "-m", "leadgate.cli", "serve", "--db", db_url,
                "--port", str(self.port)]
        if not worker:
            args.append("--no-worker")
        self.log = log
        self._out = open(log, "wb") if log else None  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT,
                                     stdout=self._out or subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                detail = self.log.read_text() if self.log and self.log.exists() else ""
                raise RuntimeError(f"leadgate serve exited with {self.proc.returncode}\n{detail}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"leadgate serve on port {self.port} did not become ready")

    def kill9(self) -> None:
        self.proc.kill()  # SIGKILL: no clean-up of any kind
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._out is not None:
            self._out.close()
            self._out = None


@contextmanager
def servers(db_url: str, n: int, tmp: Path, **kw: object) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for i in range(n):
            started.append(Server(db_url, log=tmp / f"serve{i}.log", **kw))  # type: ignore[arg-type]
        yield started
    finally:
        for s in started:
            s.stop()
