"""The "thin peer": the least a lead receiver on FastAPI + PostgreSQL must do.

It checks the bearer key against a constant, parses the JSON body and stores
the lead as one row (one ``INSERT ... RETURNING id`` in autocommit, so one
transaction per request), answering 201 with ``{"id": ...}``. No
qualification, no dedupe, no routing: bench/bench_http.py measures leadgate
against it on the same machine and the same wrk load.

    THIN_PEER_DB=postgresql://postgres@127.0.0.1:5432/mydb \\
        uvicorn --app-dir bench thin_peer:app --workers 2 --port 8100

The table is created by ``create_table()`` (the bench calls it before
starting the workers).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb

API_KEY = "lg_src_test_website_key_0000"  # tests/conftest.py WEBSITE_KEY
EXPECTED = f"Bearer {API_KEY}"
DB_URL = os.environ.get("THIN_PEER_DB", "postgresql://postgres@127.0.0.1:5432/postgres")
POOL_SIZE = int(os.environ.get("THIN_PEER_POOL", "10"))
INSERT = "INSERT INTO thin_leads (source, payload, created_at) VALUES (%s, %s, now()) RETURNING id"
TABLE = ("CREATE TABLE IF NOT EXISTS thin_leads (id bigserial PRIMARY KEY, source text NOT NULL, "
         "payload jsonb NOT NULL, created_at timestamptz NOT NULL)")


def create_table(url: str = DB_URL) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE)


class Pool:
    """A fixed set of autocommit connections handed out one request at a time."""

    def __init__(self) -> None:
        self.free: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self.all: list[psycopg.AsyncConnection[Any]] = []

    async def open(self, url: str, size: int) -> None:
        for _ in range(size):
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
            self.all.append(conn)
            self.free.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.all:
            await conn.close()


pool = Pool()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await pool.open(DB_URL, POOL_SIZE)
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail}, status_code=status,
                        media_type="application/problem+json")


@app.post("/v1/leads")
async def capture(request: Request) -> JSONResponse:
    if request.headers.get("authorization") != EXPECTED:
        return problem(401, "missing or wrong source key")
    try:
        lead = await request.json()
    except ValueError:
        return problem(400, "the body is not JSON")
    if not isinstance(lead, dict):
        return problem(422, "a lead must be a JSON object")
    conn = await pool.free.get()
    try:
        cur = await conn.execute(INSERT, ("website", Jsonb(lead)))
        row = await cur.fetchone()
    finally:
        pool.free.put_nowait(conn)
    assert row is not None
    return JSONResponse({"id": row[0]}, status_code=201)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
