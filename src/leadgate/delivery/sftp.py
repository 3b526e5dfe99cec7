"""SFTP: leads written as CSV batch files to a partner's server (asyncssh).

::

    - key: partner-drop
      kind: sftp
      host: sftp.partner.example
      port: 22
      username: leadgate
      password: "..."                # or private_key: "-----BEGIN OPENSSH PRIVATE KEY-----..."
      host_key: "ssh-ed25519 AAAA..."  # the server's public key (or known_hosts: path)
      directory: /inbound
      filename: "leads-{{ batch_id }}.csv"
      columns: {id: lead_id, name: first_name, phone: phone}
      batch: {size: 100, every: 1h}  # send when 100 wait, or 1 h after the oldest

A batch is written under a temporary name and renamed when complete, so the
partner never picks up half a file. Each delivery of the batch records the same
attempt (file name, rows, outcome).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import asyncssh

from leadgate.delivery.base import (
    DeliveryError,
    Exchange,
    Kind,
    Outcome,
    SendContext,
    elapsed_ms,
    parse_batch,
    register,
    text,
    truncate,
    unknown_keys,
)
from leadgate.delivery.render import check_mapping, check_template, map_fields, render
from leadgate.domain.errors import InvalidConfig


def to_csv(columns: Mapping[str, Any], leads: Sequence[Mapping[str, Any]]) -> str:
    """The CSV text of a batch: a header row, then one row per lead in order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(columns))
    for lead in leads:
        row = map_fields(columns, lead)
        w.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return buf.getvalue()


@register
class Sftp(Kind):
    name = "sftp"
    description = "CSV batch files uploaded over SFTP"
    batch = True

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown_keys(data, {"host", "port", "username", "password", "private_key", "host_key",
                            "known_hosts", "insecure_any_host_key", "directory", "filename",
                            "columns", "batch"}, path)
        if not (data.get("host_key") or data.get("known_hosts")
                or data.get("insecure_any_host_key") is True):
            raise InvalidConfig("give host_key (the server's public key) or known_hosts, so the "
                                "server is verified", path=f"{path}.host_key")
        return {"host": text(data, "host", path), "port": int(data.get("port", 22)),
                "username": text(data, "username", path), "password": data.get("password"),
                "private_key": data.get("private_key"), "host_key": data.get("host_key"),
                "known_hosts": data.get("known_hosts"),
                "directory": str(data.get("directory", ".")).rstrip("/") or "/",
                "filename": check_template(data.get("filename", "leads-{{ batch_id }}.csv"),
                                           f"{path}.filename"),
                "columns": check_mapping(data.get("columns"), f"{path}.columns"),
                **parse_batch(data.get("batch"), f"{path}.batch")}

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [s for s in (config.get("password"), config.get("private_key")) if s]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        return {"columns": list(config["columns"]),
                "row": map_fields(config["columns"], lead)}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        return self.send_batch(config, [lead], ctx)

    def send_batch(self, config: Mapping[str, Any], leads: Sequence[Mapping[str, Any]],
                   ctx: SendContext) -> tuple[Outcome, Exchange]:
        batch_id = str(leads[0].get("batch_id") or leads[0].get("delivery_id") or "batch")
        name = render(config["filename"], {"batch_id": batch_id},
                      batch_id=batch_id, now=ctx.now).strip()
        if not name or "/" in name:
            raise DeliveryError(f"bad file name {name!r}", retryable=False)
        body = to_csv(config["columns"], leads)
        target = f"{config['directory']}/{name}"
        seen = Exchange(request={"sftp": f"{config['host']}:{config['port']}", "file": target,
                                 "rows": len(leads), "body": truncate(body)})
        start = ctx.clock()
        try:
            asyncio.run(asyncio.wait_for(_upload(config, target, body.encode()), ctx.timeout))
        except TimeoutError:
            raise DeliveryError(f"timed out after {ctx.timeout:g}s") from None
        except asyncssh.PermissionDenied as exc:
            return Outcome("error", f"login refused: {exc.reason}", retryable=False), seen
        except (OSError, asyncssh.Error) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        seen.response = {"ms": elapsed_ms(start, ctx.clock), "file": target,
                         "bytes": len(body.encode())}
        return Outcome("accepted", f"{len(leads)} row(s) in {target}"), seen


async def _upload(config: Mapping[str, Any], target: str, data: bytes) -> None:
    known: Any = None
    if config.get("host_key"):
        known = asyncssh.import_known_hosts(
            f"{config['host']} {config['host_key']}\n[{config['host']}]:{config['port']} "
            f"{config['host_key']}\n")
    elif config.get("known_hosts"):
        known = config["known_hosts"]
    keys = [asyncssh.import_private_key(config["private_key"])] \
        if config.get("private_key") else None
    async with asyncssh.connect(
            config["host"], port=config["port"], username=config["username"],
            password=config.get("password"), client_keys=keys, known_hosts=known,
            agent_path=None) as conn, conn.start_sftp_client() as sftp:
        tmp = target + ".part"
        async with sftp.open(tmp, "wb") as f:
            await f.write(data)
        await _rename(sftp, tmp, target)


async def _rename(sftp: Any, tmp: str, target: str) -> None:
    try:
        await sftp.posix_rename(tmp, target)
    except (asyncssh.SFTPError, AttributeError):
        await sftp.rename(tmp, target)
