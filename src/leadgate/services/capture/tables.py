"""The tables the capture batch reads and writes."""

from __future__ import annotations

from leadgate.store import models as m

LEADS, EVENTS, KEYS = m.Lead.__table__, m.LeadEvent.__table__, m.DedupeKey.__table__
ASSIGNMENTS, STATE = m.Assignment.__table__, m.RoutingState.__table__
OFFERS = m.Offer.__table__
IDEM, SUPP, JOBS = m.IdempotencyKey.__table__, m.Suppression.__table__, m.Job.__table__


