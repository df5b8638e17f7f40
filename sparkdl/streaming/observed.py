"""Spark Connect: score and write one micro-batch, its figures through observed metrics (driver).

Spark Connect has no accumulators. Here the unscorable rows are filtered out in Spark SQL, and the
batch's row count, dead-letter count and Kafka timestamp percentiles are observed on the way
(`DataFrame.observe`): Spark returns them with the sink's own job, so the batch is still read once.
"""
from __future__ import annotations

from pyspark.sql import Observation
from pyspark.sql import functions as F

from ..inference.executor import ScoringPlan, score_batches
from .sources import ERROR, RAW


def write_observed(batch_df, batch_id: int, plan: ScoringPlan, schema, sink, has_timestamps: bool):
    """Score and write `batch_df`; return (rows, dead letters, timestamp p01 and p50 or None)."""
    observation = Observation(f"sparkdl_batch_{batch_id}")
    metrics = [F.count(F.lit(1)).alias("rows"), F.count(F.col(ERROR)).alias("dead")]
    if has_timestamps:
        seconds = F.when(F.col(ERROR).isNull(), F.col("timestamp").cast("double"))
        metrics.append(F.percentile_approx(seconds, [0.01, 0.5]).alias("stamps"))
    good = batch_df.observe(observation, *metrics).filter(F.col(ERROR).isNull()).drop(ERROR, RAW)
    sink.write(good.mapInArrow(score_batches(plan), schema), batch_id)
    figures = observation.get
    stamps = figures.get("stamps")
    return figures["rows"], figures["dead"], tuple(stamps) if stamps and stamps[0] is not None else None
