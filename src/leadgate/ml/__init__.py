"""Machine-learned lead scoring, trained on a campaign's own outcomes.

Training uses scikit-learn (the ``ml`` extra); a trained
:class:`ScoringModel` is plain JSON and predicts without it::

    result = train(rows, campaign)            # rows: [(values, won), ...]
    blob = result.model.dumps()               # store it (versioned JSON)
    model = ScoringModel.loads(blob)
    probability, top_features = model.predict(values)

Bundled models live in ``leadgate/data/models/<name>.json``; :func:`load_model`
reads one by name (the demo ships ``demo_insurance``).
"""

from __future__ import annotations

from importlib import resources

from leadgate.ml.model import InsufficientData, ModelFormatError, ScoringModel
from leadgate.ml.synthetic import demo_campaign, synthetic_history
from leadgate.ml.train import MIN_OUTCOMES, TrainResult, train

__all__ = [
    "MIN_OUTCOMES", "InsufficientData", "ModelFormatError", "ScoringModel", "TrainResult",
    "build_demo_model", "demo_campaign", "load_model", "synthetic_history", "train",
]


def load_model(name: str) -> ScoringModel:
    """A model bundled with leadgate, by name (``leadgate/data/models/<name>.json``)."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ModelFormatError(f"bad model name {name!r}")
    path = resources.files("leadgate.data").joinpath("models", f"{name}.json")
    if not path.is_file():
        raise ModelFormatError(f"no bundled model named {name!r}")
    return ScoringModel.loads(path.read_bytes())


def build_demo_model(n: int = 4000, seed: int = 0) -> TrainResult:
    """Train the demo model on synthetic history (what ships as ``demo_insurance``)."""
    return train(synthetic_history(n, seed), demo_campaign(), seed=seed)

