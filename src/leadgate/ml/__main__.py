"""``python -m leadgate.ml``: retrain the bundled demo model from synthetic history."""

from __future__ import annotations

import pathlib

from leadgate.ml import build_demo_model

result = build_demo_model()
target = pathlib.Path(__file__).parent.parent / "data" / "models" / "demo_insurance.json"
target.write_bytes(result.model.dumps())
print(f"wrote {target} version={result.version} auc={result.auc:.3f}")
