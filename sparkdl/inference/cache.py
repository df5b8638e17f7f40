"""Executor side: a model is unpacked once per executor and loaded once per Python worker.

Two levels, both keyed by the model's content fingerprint:
  1. disk: the broadcast archive is unpacked under the executor's Spark files directory. This
     copy outlives the Python worker, so a worker that Spark starts later (Spark stops workers idle
     for 60 s, a hard-coded limit) loads from local disk without touching the broadcast again.
  2. memory: the loaded model lives in this module for the life of the Python worker, which Spark
     reuses across tasks and jobs (`spark.python.worker.reuse=true`, the default). A second
     `predict` with the same model in the same worker loads nothing.
"""
from __future__ import annotations

import gc
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..model_archive import unpack, unpacked_path

log = logging.getLogger("sparkdl")
MAX_MODELS_PER_WORKER = 4
_models: "OrderedDict[tuple, Any]" = OrderedDict()


@dataclass(frozen=True)
class ModelRef:
    """What a task needs to find its model: shipped in the task closure, the bytes in `broadcast`."""

    fingerprint: str
    kind: str
    name: str
    broadcast: Any  # pyspark Broadcast of the archive bytes
    loads: Any  # pyspark Accumulator counting loads


def _model_root() -> str:
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.getRootDirectory(), "sparkdl-models")


def local_model_path(ref: ModelRef) -> str:
    """Unpack the model on this executor if no earlier worker did; return its local path."""
    root = _model_root()
    existing = unpacked_path(ref.fingerprint, ref.name, root)
    return existing or unpack(ref.broadcast.value, ref.fingerprint, ref.name, root)


def freeze_loaded_objects() -> None:
    """Exclude everything loaded so far (TensorFlow, the model) from garbage collection.

    PySpark's daemon runs a full `gc.collect()` after every task of a reused worker; with
    TensorFlow loaded that walk costs about 0.1 s per task, which dominates short tasks (a training
    round, a streaming micro-batch). Frozen objects live as long as the worker anyway.
    """
    gc.freeze()


def get_model(ref: ModelRef, device):
    """Return the model loaded in this worker on `device`, loading it on first use."""
    key = (ref.fingerprint, device)
    if key in _models:
        _models.move_to_end(key)
        return _models[key]
    from ..tf.model_io import load_model

    started = time.perf_counter()
    model = load_model(local_model_path(ref), ref.kind, device)
    _models[key] = model
    while len(_models) > MAX_MODELS_PER_WORKER:
        _models.popitem(last=False)
    ref.loads.add(1)
    freeze_loaded_objects()
    log.info("sparkdl: loaded model %s (%s) on %s in %.2fs, pid %d", ref.fingerprint[:12], ref.kind,
                device or "default device", time.perf_counter() - started, os.getpid())
    return model
