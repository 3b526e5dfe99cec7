"""kill -9 of a worker process while 1,000 deliveries are in flight to a local
receiver: every delivery is received at least once and, deduplicated by
idempotency id, exactly 1,000 distinct deliveries arrive; all end accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import SETUP, apply_setup, make_app
from tests.e2e.servers import ROOT
from tests.receivers import http_receiver

from leadgate.services import deliveries
from leadgate.store import models as m

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
N = 1000


def worker(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LEADGATE_ENVIRONMENT": "test", "LEADGATE_JOB_LEASE_SECONDS": "5",
           "LEADGATE_WORKER_POLL_SECONDS": "0.1", "LEADGATE_POOL_SIZE": "4"}
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "leadgate.cli", "worker", "--db",
                                 db_url], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)


def test_kill_9_mid_delivery_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    def slow_ok(r: object) -> tuple[int, dict[str, bool]]:
        time.sleep(0.005)  # keep requests in flight when the kill lands
        return 200, {"ok": True}

    with http_receiver(slow_ok) as rx:
        app = make_app(pg_url)
        try:
            apply_setup(app, SETUP.replace(
                "flows:\n", f"destinations:\n  - {{key: hook, kind: http, url: '{rx.url}/x', "
                "timeout: 5s, concurrency: 50}\nflows:\n"))
            from leadgate.services.ingest import ingest_lead

            with app.uow() as uow:
                src = uow.session.scalar(select(m.Source).where(m.Source.key == "website"))
                assert src is not None
                lead_id = ingest_lead(uow, src, {"first_name": "Kim", "phone": "+91 98123 45678"},
                                      app.clock()).lead_id
            assert lead_id is not None
            with app.uow() as uow:  # 1,000 deliveries queued in one transaction
                for _ in range(N):
                    deliveries.queue_direct(uow, lead_id, "hook", app.clock())
                uow.commit()
            procs = [worker(pg_url, tmp_path / f"w{i}.log") for i in range(2)]
            try:
                deadline = time.monotonic() + 120
                while len(rx.requests) < N // 4 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(rx.requests) < N, "all sent before the kill: nothing was tested"
                procs[0].kill()  # SIGKILL mid-delivery
                procs[0].wait(10)
                procs.append(worker(pg_url, tmp_path / "w2.log"))
                deadline = time.monotonic() + 240
                done = 0
                while time.monotonic() < deadline:
                    with app.reader() as uow:
                        done = uow.session.scalar(select(func.count()).select_from(m.Delivery)
                                                  .where(m.Delivery.status == "accepted")) or 0
                    if done == N:
                        break
                    time.sleep(0.5)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.terminate()
                        p.wait(10)
            with app.reader() as uow:
                keys = set(uow.session.scalars(select(m.Delivery.idempotency_key)))
                statuses = dict(uow.session.execute(
                    select(m.Delivery.status, func.count()).group_by(m.Delivery.status)).all())
        finally:
            app.close()
    received = [r.headers["Idempotency-Key"] for r in rx.requests]
    print(f"received {len(received)} requests for {N} deliveries "
          f"({len(received) - len(set(received))} repeats after the kill)")
    assert statuses == {"accepted": N}
    assert set(received) == keys  # every delivery at least once, nothing unknown
    assert len(set(received)) == N
