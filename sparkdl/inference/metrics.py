"""Counters a user or test can read on the driver: how many times executors loaded a model.

One accumulator per SparkContext, created on the driver and updated by executors (`cache.py`).
Spark adds updates from retried tasks again, so read it as "at least", not as an exact ledger.
"""
from __future__ import annotations

_load_counters = {}


def load_counter(sc):
    """The model-load accumulator of this SparkContext (driver side)."""
    key = sc.applicationId
    if key not in _load_counters:
        _load_counters[key] = sc.accumulator(0)
    return _load_counters[key]


def model_loads(spark) -> int:
    """How many times Python workers loaded a model for sparkdl in this application so far.

    A model is loaded once per Python worker and device; a second `predict` with the same model
    in a reused worker loads nothing, so this stays flat across repeated calls.
    """
    return load_counter(spark.sparkContext).value
