"""Email (SMTP): a templated message per lead.

::

    - key: sales-inbox
      kind: email
      host: smtp.example.com
      port: 587
      starttls: true
      username: leads@example.com
      password: "..."
      from: leads@example.com
      to: ["sales@example.com", "{{ lead.assignee_email }}"]
      subject: "New lead: {{ lead.first_name }} ({{ lead.campaign }})"
      body: |
        {{ lead.first_name }} {{ lead.last_name }} {{ lead.phone }}

The delivery's idempotency id is the ``Message-ID`` (and ``X-Leadgate-Delivery``),
so a receiving system can drop a repeat after an interrupted send.

**Digest**: ``digest: {size: 20, every: 1h}`` collects the leads and sends one email
when 20 wait or an hour after the oldest (the worker's batch machinery, as for SFTP
files). ``digest_subject`` (default ``"{{ leads|length }} new leads"``) sees ``leads``;
the body is ``body`` rendered for each lead, separated by a line of dashes; ``to`` is
rendered with the first lead (use fixed addresses for a digest). The ``Message-ID`` is
the batch id, and ``X-Leadgate-Delivery`` lists every delivery id in it.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

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
from leadgate.delivery.render import check_template, render
from leadgate.domain.errors import InvalidConfig

DEFAULT_BODY = ("A new lead:\n\n{% for k, v in lead.items() %}{% if v is not none %}"
                "{{ k }}: {{ v }}\n{% endif %}{% endfor %}")


DIGEST_SUBJECT = "{{ leads|length }} new leads"
DIGEST_SEPARATOR = "\n\n" + "-" * 40 + "\n\n"


@register
class Email(Kind):
    name = "email"
    description = ("an email per lead over SMTP, templated subject and body, or a digest "
                   "of many leads")

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown_keys(data, {"host", "port", "starttls", "ssl", "username", "password", "from",
                            "to", "subject", "body", "digest", "digest_subject"}, path)
        to = data.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to:
            raise InvalidConfig("to must be an address or a list of them", path=f"{path}.to")
        return {"host": text(data, "host", path), "port": int(data.get("port", 25)),
                "starttls": bool(data.get("starttls", False)), "ssl": bool(data.get("ssl")),
                "username": data.get("username"), "password": data.get("password"),
                "from": text(data, "from", path),
                "to": [check_template(t, f"{path}.to[{i}]") for i, t in enumerate(to)],
                "subject": check_template(data.get("subject", "New lead {{ lead.lead_id }}"),
                                          f"{path}.subject"),
                "body": check_template(data.get("body", DEFAULT_BODY), f"{path}.body"),
                **self._digest(data, path)}

    @staticmethod
    def _digest(data: Mapping[str, Any], path: str) -> dict[str, Any]:
        if data.get("digest") in (None, False):
            if data.get("digest_subject") is not None:
                raise InvalidConfig("digest_subject needs digest: {size, every}",
                                    path=f"{path}.digest_subject")
            return {}
        return {"digest": True, **parse_batch(data["digest"], f"{path}.digest", size=20),
                "digest_subject": check_template(
                    data.get("digest_subject", DIGEST_SUBJECT), f"{path}.digest_subject")}

    def batched(self, config: Mapping[str, Any]) -> bool:
        return bool(config.get("digest"))

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [config["password"]] if config.get("password") else []

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        to = [a for a in (render(t, lead).strip() for t in config["to"]) if a]
        if not to:
            raise DeliveryError("no recipient address for this lead", retryable=False)
        return {"from": config["from"], "to": to,
                "subject": render(config["subject"], lead).strip(),
                "body": render(config["body"], lead),
                "message_id": f"<{lead.get('idempotency_key') or lead.get('lead_id')}"
                              f"@leadgate>"}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        p = self.prepare(config, lead)
        return self._deliver(config, p, [str(lead["idempotency_key"])]
                             if lead.get("idempotency_key") else [], ctx)

    def send_batch(self, config: Mapping[str, Any], leads: Sequence[Mapping[str, Any]],
                   ctx: SendContext) -> tuple[Outcome, Exchange]:
        """One digest email for the leads of a batch."""
        first = leads[0]
        p = self.prepare(config, first)
        p["subject"] = render(config.get("digest_subject", DIGEST_SUBJECT), first,
                              leads=[dict(x) for x in leads]).strip()
        p["body"] = DIGEST_SEPARATOR.join(render(config["body"], x) for x in leads)
        batch_id = first.get("batch_id") or first.get("idempotency_key") or "batch"
        p["message_id"] = f"<digest-{batch_id}@leadgate>"
        keys = [str(x["idempotency_key"]) for x in leads if x.get("idempotency_key")]
        return self._deliver(config, p, keys, ctx)

    def _deliver(self, config: Mapping[str, Any], p: Mapping[str, Any], keys: list[str],
                 ctx: SendContext) -> tuple[Outcome, Exchange]:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = p["from"], ", ".join(p["to"]), p["subject"]
        msg["Message-ID"] = p["message_id"]
        if keys:
            msg["X-Leadgate-Delivery"] = " ".join(keys)
        msg.set_content(p["body"])
        seen = Exchange(request={"smtp": f"{config['host']}:{config['port']}", "from": p["from"],
                                 "to": p["to"], "subject": p["subject"],
                                 "body": truncate(p["body"])})
        start = ctx.clock()
        cls = smtplib.SMTP_SSL if config["ssl"] else smtplib.SMTP
        try:
            with cls(config["host"], config["port"], timeout=ctx.timeout) as smtp:
                if config["starttls"]:
                    smtp.starttls()
                if config.get("username"):
                    smtp.login(config["username"], config.get("password") or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome("rejected", f"recipients refused: {sorted(exc.recipients)}"), seen
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome("error", f"SMTP authentication failed ({exc.smtp_code})",
                           retryable=False), seen
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            return Outcome("rejected" if permanent else "error",
                           f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                           retryable=not permanent), seen
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        seen.response = {"ms": elapsed_ms(start, ctx.clock),
                         "refused": sorted(refused) if refused else []}
        return Outcome("accepted", f"sent to {len(p['to'])} recipient(s)"), seen
