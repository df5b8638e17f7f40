"""What `train` returns (driver side): the trained model, the per-epoch history, the checkpoints."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, List, Optional

from .. import fs


@dataclass
class TrainResult:
    """model: the trained Keras model; history: one dict per epoch (loss, metrics, val_*,
    samples_per_second, rounds, seconds); checkpoint_dir: where checkpoints were written;
    mlflow_run_id / mlflow_model_uri: where train(..., mlflow=...) logged the run and the model."""

    model: Any
    history: List[dict] = field(default_factory=list)
    checkpoint_dir: Optional[str] = None
    mlflow_run_id: Optional[str] = None
    mlflow_model_uri: Optional[str] = None

    def save(self, uri: str, spark=None) -> str:
        """Save the model as a `.keras` file to any Hadoop path (and `<name>.history.json` beside it)."""
        if not str(uri).endswith(".keras"):
            uri = fs.join(uri, "model.keras")
        with tempfile.TemporaryDirectory(prefix="sparkdl-save-") as local:
            path = os.path.join(local, os.path.basename(uri))
            self.model.save(path)
            fs.upload(path, uri, spark)
        fs.write_text(str(uri)[: -len(".keras")] + ".history.json", json.dumps(self.history, indent=1), spark)
        return uri
