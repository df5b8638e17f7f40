"""Driver side: the description and job group that the Spark jobs sparkdl starts carry.

Descriptions show in the Spark UI and in the status store (`sparkdl train: epoch 2/5 round
37/120`, `sparkdl predict: model 6d15… (savedmodel)`). They are thread-local Spark properties:
`described` sets one for the jobs started inside it and puts the previous one back. Spark
Connect sessions have no SparkContext: there these are no-ops.
"""
from __future__ import annotations

import contextlib

from .session import is_connect

DESCRIPTION = "spark.job.description"


def _context(spark):
    return None if is_connect(spark) else spark.sparkContext


@contextlib.contextmanager
def described(spark, text: str):
    """Jobs started inside carry `text` as their description (driver)."""
    sc = _context(spark)
    if sc is None:
        yield
        return
    previous = sc.getLocalProperty(DESCRIPTION)
    sc.setJobDescription(text)
    try:
        yield
    finally:
        sc.setLocalProperty(DESCRIPTION, previous)


def describe(spark, text: str) -> None:
    """Set the description of the jobs this thread starts from now on (driver)."""
    sc = _context(spark)
    if sc is not None:
        sc.setJobDescription(text)
