"""Executor side: set TensorFlow's thread budget once per process, score arrays in batches.

Thread budget: TensorFlow fixes its thread pools when its runtime starts, so `configure_threads`
must run before the first model is loaded in a Python worker. Spark reuses the worker for later
tasks of the same application, which all have the same `spark.task.cpus`, so once is enough.
"""
from __future__ import annotations

import logging
import weakref
from contextlib import nullcontext

import numpy as np
import tensorflow as tf

from .call_size import CALL_TIMING, CallSizeTuner
from .keras_objects import on_device
from .model_io import LoadedModel

log = logging.getLogger(__name__)
_threads_configured = None
_tuners: "weakref.WeakKeyDictionary[LoadedModel, CallSizeTuner]" = weakref.WeakKeyDictionary()


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
        log.warning("TensorFlow was initialized before sparkdl could set %d threads", threads)


def enable_memory_growth() -> None:
    """Let each process take GPU memory as it needs it, so tasks sharing a GPU can coexist."""
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialized


def call_size_tuner(model: LoadedModel, device: str) -> CallSizeTuner:
    """The tuner of `model` in this process; it lives as long as the loaded model."""
    if model not in _tuners:
        _tuners[model] = CallSizeTuner(label=f"model on {device or 'the default device'}",
                                       gpu="GPU" in (device or "").upper())
    return _tuners[model]


def predict_in_batches(model: LoadedModel, inputs: dict, batch_size, device: str) -> dict:
    """Score `inputs` ({name: array of n rows}) on `device` in calls of `batch_size` rows.

    batch_size None: calls of the size this worker measured fastest for `model` (see call_size).
    """
    rows = len(next(iter(inputs.values())))
    if rows == 0:
        return {spec.name: np.zeros((0,) + tuple(d or 0 for d in spec.inner_shape), spec.numpy_dtype)
                for spec in model.signature.outputs}
    tuner = None if batch_size else call_size_tuner(model, device)
    if tuner is not None:
        tuner.offer(rows)
    parts, start = [], 0
    with on_device(device):
        while start < rows:
            size = batch_size or tuner.next_size()
            chunk = {name: array[start:start + size] for name, array in inputs.items()}
            with CALL_TIMING if tuner is not None and tuner.searching else nullcontext():
                started = tuner.clock() if tuner else 0.0
                try:
                    parts.append(model(chunk))
                except tf.errors.ResourceExhaustedError:
                    if tuner is not None and tuner.out_of_memory(size):
                        continue
                    raise
                if tuner is not None:
                    tuner.record(min(size, rows - start), tuner.clock() - started)
            start += size
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
