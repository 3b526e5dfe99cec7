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
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from leadgate.delivery.base import (
    DeliveryError,
    Exchange,
    Kind,
    Outcome,
    SendContext,
    elapsed_ms,
    register,
    text,
    truncate,
    unknown_keys,
)
from leadgate.delivery.render import check_template, render
from leadgate.domain.errors import InvalidConfig

DEFAULT_BODY = ("A new lead:\n\n{% for k, v in lead.items() %}{% if v is not none %}"
                "{{ k }}: {{ v }}\n{% endif %}{% endfor %}")


@register
class Email(Kind):
    name = "email"
    description = "an email per lead over SMTP, templated subject and body"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown_keys(data, {"host", "port", "starttls", "ssl", "username", "password", "from",
                            "to", "subject", "body"}, path)
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
                "body": check_template(data.get("body", DEFAULT_BODY), f"{path}.body")}

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
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = p["from"], ", ".join(p["to"]), p["subject"]
        msg["Message-ID"] = p["message_id"]
        if lead.get("idempotency_key"):
            msg["X-Leadgate-Delivery"] = str(lead["idempotency_key"])
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
