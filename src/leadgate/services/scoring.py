"""Learned scoring models: train on a campaign's own outcomes, store versioned
models, switch one on, and hand the active one to the gatekeeper."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from leadgate.domain.errors import NotFound
from leadgate.services import catalog
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

_lock = threading.Lock()
_models: dict[tuple[str, int, int], Any] = {}  # (database, campaign id, version)


def _campaign(uow: UnitOfWork, key: str) -> m.Campaign:
    row = uow.session.scalar(select(m.Campaign).where(m.Campaign.key == key))
    if row is None:
        raise NotFound(f"no campaign {key!r}")
    return row


def training_rows(uow: UnitOfWork, campaign: m.Campaign) -> list[tuple[dict[str, Any], bool]]:
    """Closed leads of the campaign: the facts the model sees, and won or not."""
    rows = uow.session.execute(
        select(m.Lead.values, m.Lead.enrichment, m.Lead.status)
        .where(m.Lead.campaign_id == campaign.id, m.Lead.status.in_(("won", "lost")))
        .order_by(m.Lead.id))
    return [({**(enr or {}), **(values or {})}, status == "won")
            for values, enr, status in rows]


def train(uow: UnitOfWork, campaign_key: str, now: datetime, *, activate: bool = False,
          seed: int = 0) -> dict[str, Any]:
    """Train, evaluate on a held-out split and store a new model version."""
    from leadgate.ml import train as fit  # scikit-learn: the optional `ml` extra

    row = _campaign(uow, campaign_key)
    result = fit(training_rows(uow, row), catalog.campaign_of(row), seed=seed)
    version = (uow.session.scalar(select(func.max(m.ScoringModelRow.version)).where(
        m.ScoringModelRow.campaign_id == row.id)) or 0) + 1
    metrics = {"auc": result.auc, "rule_auc": result.rule_auc, "brier": result.brier,
               "calibration": result.calibration, "n_train": result.n_train,
               "n_test": result.n_test, "model_version": result.version}
    if activate:
        uow.session.execute(update(m.ScoringModelRow).where(
            m.ScoringModelRow.campaign_id == row.id).values(active=False))
    uow.session.add(m.ScoringModelRow(campaign_id=row.id, version=version,
                                      blob=result.model.dumps(), metrics=metrics,
                                      active=activate, created_at=now))
    uow.commit()
    return {"campaign": campaign_key, "version": version, "active": activate, **metrics}


def activate(uow: UnitOfWork, campaign_key: str, version: int | None) -> None:
    """Switch a stored model on (``None`` switches learned scoring off)."""
    row = _campaign(uow, campaign_key)
    uow.session.execute(update(m.ScoringModelRow).where(
        m.ScoringModelRow.campaign_id == row.id).values(active=False))
    if version is not None:
        found = uow.session.scalar(select(m.ScoringModelRow).where(
            m.ScoringModelRow.campaign_id == row.id, m.ScoringModelRow.version == version))
        if found is None:
            raise NotFound(f"campaign {campaign_key!r} has no model version {version}")
        found.active = True
    uow.commit()


def list_models(uow: UnitOfWork, campaign_key: str) -> list[dict[str, Any]]:
    row = _campaign(uow, campaign_key)
    return [{"version": r.version, "active": r.active, "created_at": r.created_at.isoformat(),
             **{k: v for k, v in r.metrics.items() if k != "calibration"}}
            for r in uow.session.scalars(select(m.ScoringModelRow).where(
                m.ScoringModelRow.campaign_id == row.id).order_by(m.ScoringModelRow.version))]


def active_model(uow: UnitOfWork, campaign: m.Campaign) -> Any:
    """The campaign's switched-on model (cached per version), else a bundled model
    named by the campaign's ``scoring.model``, else None."""
    found = uow.session.execute(select(m.ScoringModelRow.id, m.ScoringModelRow.version).where(
        m.ScoringModelRow.campaign_id == campaign.id, m.ScoringModelRow.active.is_(True))
    ).first()
    return model_for(uow.session, campaign.id, catalog.campaign_of(campaign),
                     (found.id, found.version) if found is not None else None)


def model_for(session: Any, campaign_id: int, spec: Any,
              active: tuple[int, int] | None) -> Any:
    """The model for a campaign given its active stored model (id, version), if any;
    cached per database, campaign and version."""
    db = str(session.get_bind().engine.url)
    if active is not None:
        key = (db, campaign_id, active[1])
        model = _models.get(key)
        if model is None:
            from leadgate.ml import ScoringModel

            blob = session.scalar(select(m.ScoringModelRow.blob).where(
                m.ScoringModelRow.id == active[0]))
            model = ScoringModel.loads(blob)
            with _lock:
                _models[key] = model
        return model
    name = spec.scoring.model if spec.scoring else None
    if not name:
        return None
    key = (db, campaign_id, -1)
    if key not in _models:
        from leadgate.ml import ModelFormatError, load_model

        try:
            model = load_model(name)
        except ModelFormatError:
            model = None  # a name that is not bundled: rule scoring until one is trained
        with _lock:
            _models[key] = model
    return _models[key]
