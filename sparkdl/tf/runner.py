"""Executor side: set TensorFlow's thread budget once per process, score arrays in batches.

Thread budget: TensorFlow fixes its thread pools when its runtime starts, so `configure_threads`
must run before the first model is loaded in a Python worker. Spark reuses the worker for later
tasks of the same application, which all have the same `spark.task.cpus`, so once is enough.
"""
from __future__ import annotations

import contextlib
import logging

import numpy as np
import tensorflow as tf

from .model_io import LoadedModel

log = logging.getLogger("sparkdl")
_threads_configured = None


def configure_threads(threads: int) -> None:
    """Limit TensorFlow's intra- and inter-op pools to `threads` in this process (first call wins)."""
    global _threads_configured
    if _threads_configured is not None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        _threads_configured = threads
    except RuntimeError:
        _threads_configured = 0  # the runtime started before us; leave TensorFlow's defaults
        log.warning("sparkdl: TensorFlow was initialized before sparkdl could set %d threads", threads)


def enable_memory_growth() -> None:
    """Let each process take GPU memory as it needs it, so tasks sharing a GPU can coexist."""
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialized


def predict_in_batches(model: LoadedModel, inputs: dict, batch_size: int, device: str) -> dict:
    """Score `inputs` ({name: array of n rows}) in slices of `batch_size` rows on `device`."""
    rows = len(next(iter(inputs.values())))
    if rows == 0:
        return {spec.name: np.zeros((0,) + tuple(d or 0 for d in spec.inner_shape), spec.numpy_dtype)
                for spec in model.signature.outputs}
    parts = []
    with tf.device(device) if device else contextlib.nullcontext():
        for start in range(0, rows, batch_size):
            parts.append(model({name: array[start:start + batch_size] for name, array in inputs.items()}))
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
