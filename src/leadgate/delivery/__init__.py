"""Delivery: destinations (one module per kind behind one interface), response
parsing, signing. The reliable part (queue, retry, dead letters) is in
``leadgate.services.deliveries``.
"""

from leadgate.delivery import (  # noqa: F401  (registers the kinds)
    database,
    dialler,
    email,
    http,
    hubspot,
    salesforce,
    sftp,
    sms,
)
from leadgate.delivery.base import KINDS, Outcome, Spec, parse_spec

__all__ = ["KINDS", "Outcome", "Spec", "parse_spec"]
