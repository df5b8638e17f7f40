"""Driver side: `score_stream()` -- score a Kafka topic or a file directory as it arrives.

Each micro-batch (a `foreachBatch` call) is decoded, split into rows that can be scored and rows
that cannot (the dead letters), scored with the same executor function and per-worker model cache
as `predict`, and written to the sink keyed by the batch id. One Spark job per micro-batch: the
counts and latencies come back through one set of accumulators per query (observed metrics on Spark Connect, see
observed.py), and only a batch that holds unscorable rows
reads its offsets a second time to write them to the dead-letter output. The Kafka offsets live in the
query's checkpoint, so a restarted query continues with the first uncommitted batch; the checkpoint
also names its source and model (`state.claim_checkpoint`), so it cannot be reused for another.
A micro-batch's jobs carry the description `sparkdl score_stream: batch <id>`. The model is
resolved once, when the query starts: an MLflow `models:/name@alias` keeps the version it named
then (restart the query to pick up a new one).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..config import PredictConfig, positive_int
from ..errors import ConfigError, reading_model
from ..inference.executor import ScoringPlan, score_batches
from ..runtime.jobinfo import described
from ..runtime.load_options import load_options
from ..runtime.models import resolve_model
from ..runtime.schema import bind_inputs, bind_outputs, map_in_arrow
from ..runtime.session import is_connect
from . import kafka_source
from .kafka_topics import parse_offsets
from .observed import write_observed
from .sinks import ConsoleSink, KafkaSink, ParquetSink
from .sources import ERROR, RAW, FileSource, KafkaSource, decode, input_fields, read_stream
from .state import claim_checkpoint

log = logging.getLogger(__name__)
SINKS = (ParquetSink, KafkaSink, ConsoleSink)


class _Samples(AccumulatorParam):
    """Accumulates lists (of Kafka timestamps, in seconds) from executors."""

    def zero(self, value):
        return []

    def addInPlace(self, value1, value2):
        value1.extend(value2)
        return value1


def _scored_good_rows(plan: ScoringPlan, rows, dead, stamps, has_timestamps: bool):
    """Executor: drop the rows that cannot be scored (counting them) and score the rest, in one
    pass; the accumulators give the driver the batch's counts and timestamps without another job."""
    score = score_batches(plan)

    def run(batches):
        def good(batches):
            for batch in batches:
                errors = batch.column(ERROR)
                rows.add(batch.num_rows)
                dead.add(batch.num_rows - errors.null_count)
                batch = batch.filter(pc.is_null(errors))
                if has_timestamps and batch.num_rows:
                    seconds = batch.column("timestamp").cast(pa.int64()).to_numpy() / 1e6
                    stamps.add(seconds[:: max(1, len(seconds) // 2000)].tolist())  # at most ~2000 per batch
                keep = [i for i, name in enumerate(batch.schema.names) if name not in (ERROR, RAW)]
                yield batch.select(keep)

        yield from score(good(batches))

    return run


class _Counted:
    """Classic Spark: one set of accumulators per query (PySpark's driver never frees an accumulator,
    so a set per micro-batch would grow without bound in a long stream), reset before each batch."""

    def __init__(self):
        self.accumulators = None

    def __call__(self, batch_df, batch_id: int, plan: ScoringPlan, schema: T.StructType, sink, has_timestamps: bool):
        """Score and write one micro-batch; return (rows, dead letters, timestamp p01 and p50 or None),
        which come back through the accumulators of the sink's own job."""
        if self.accumulators is None:
            sc = batch_df.sparkSession.sparkContext
            self.accumulators = (sc.accumulator(0), sc.accumulator(0), sc.accumulator([], _Samples()))
        rows, dead, stamps = self.accumulators
        rows.value, dead.value, stamps.value = 0, 0, []  # batches run one after another
        sink.write(map_in_arrow(batch_df, _scored_good_rows(plan, rows, dead, stamps, has_timestamps), schema),
                   batch_id)
        return rows.value, dead.value, tuple(np.percentile(stamps.value, [1, 50])) if stamps.value else None


def _process(plan: ScoringPlan, schema: T.StructType, sink, dead_letter, has_timestamps: bool):
    """The foreachBatch function (driver): score and write one micro-batch, then log its figures."""

    counted = _Counted()

    def process(batch_df, batch_id: int) -> None:
        started = time.time()
        write = write_observed if is_connect(batch_df.sparkSession) else counted
        with described(batch_df.sparkSession, f"sparkdl score_stream: batch {batch_id}"):  # Spark's put back after
            rows, dead, percentiles = write(batch_df, batch_id, plan, schema, sink, has_timestamps)
            if dead:  # rare: read the batch's rows again (same offsets) for the unscorable ones
                bad = batch_df.filter(F.col(ERROR).isNotNull()).withColumnRenamed(ERROR, "error")
                if dead_letter is not None:
                    dead_letter.write(bad, batch_id)
                else:
                    log.warning("batch %d dropped %d unscorable rows (no dead_letter set), first: %s",
                                batch_id, dead, bad.select("error").first()[0])
        if rows == 0:
            return
        finished = time.time()
        latency = ""
        if percentiles:
            p01, p50 = percentiles
            latency = f" | latency p50 {finished - p50:.2f}s p99 {finished - p01:.2f}s"
        log.info("batch %d: %d rows (%d dead letters) in %.2fs, %.0f rows/s%s", batch_id, rows,
                 dead, finished - started, rows / max(finished - started, 1e-6), latency)

    return process


def _check_arguments(source, sink, dead_letter, checkpoint_location, max_records_per_trigger) -> None:
    """ConfigError for a wrong kind of source or sink, a missing checkpoint or a bad record limit."""
    if max_records_per_trigger is not None:
        positive_int(max_records_per_trigger, "max_records_per_trigger")
    for name, value in (("sink", sink), ("dead_letter", dead_letter)):
        if value is not None and not isinstance(value, SINKS):
            raise ConfigError(f"{name} must be a ParquetSink, KafkaSink or ConsoleSink, got {value!r}")
    if not isinstance(source, (KafkaSource, FileSource)):
        raise ConfigError(f"source must be a KafkaSource or FileSource, got {source!r}")
    if not checkpoint_location:
        raise ConfigError("checkpoint_location is required: it holds the stream's offsets and progress")


def _triggered(writer, trigger: str, available_now: bool, drain_to):
    """`writer` with its trigger set; ConfigError when Spark cannot read `trigger` as an interval
    (checked even when available_now or a drain replaces it, so a typo never passes silently;
    None is fine then)."""
    replaced = available_now or drain_to is not None
    try:
        writer = writer if trigger is None and replaced else writer.trigger(processingTime=trigger)
    except Exception as error:  # pyspark raises its own error types for a bad interval
        reason = " ".join(str(error).split())[:200]
        raise ConfigError(f"trigger {trigger!r} is not an interval Spark understands ({reason}); write it like "
                          f"'2 seconds' or '500 milliseconds'") from None
    if drain_to is not None:
        return writer.trigger(processingTime="0 seconds")  # stopped by _stop_when_drained
    if available_now:
        return writer.trigger(availableNow=True)
    return writer


def score_stream(spark, model, *, source, sink, checkpoint_location: str, inputs=None, outputs=None,
                 trigger: str = "1 second", max_records_per_trigger: Optional[int] = None,
                 available_now: bool = False, dead_letter=None, batch_size: Optional[int] = None, query_name=None,
                 allow_model_change: bool = False, custom_objects=None, imports=None, signature=None):
    """Start scoring a stream; return the running StreamingQuery.

    source: KafkaSource(...) or FileSource(...). Model inputs bind by name to the decoded fields
    (or through `inputs`); only value_format="tensor" feeds a message's raw bytes to a model.
    sink / dead_letter: ParquetSink(path) (exactly once), KafkaSink(bootstrap, topic) (at least
    once) or ConsoleSink(). Unscorable messages (not JSON, missing fields, wrong tensor size) never
    stop the stream: they go to `dead_letter` with an `error` column (or are logged and counted
    when it is None). available_now: process what is there (in batches of at most
    max_records_per_trigger), then stop. checkpoint_location belongs to one source and one model:
    restarting it against another source is a ConfigError, and so is another model unless
    allow_model_change=True. Everything is validated, and the checkpoint and sinks are checked
    (writable, brokers answer), before the query starts. custom_objects / imports / signature: the
    loading options of `sparkdl.predict`.
    """
    config = PredictConfig(inputs=inputs, outputs=outputs, batch_size=batch_size)
    _check_arguments(source, sink, dead_letter, checkpoint_location, max_records_per_trigger)
    with reading_model(model):
        resolved = resolve_model(spark, model, load_options(custom_objects, imports, signature))
    stream = read_stream(spark, source, max_records_per_trigger)
    input_names = dict(config.inputs or ())
    decoded = decode(stream, source, resolved.signature, input_names)
    scorable = decoded.drop(ERROR, RAW).schema
    bound = bind_inputs(scorable, resolved.signature, input_fields(decoded.schema, source, resolved.signature,
                                                                   input_names))
    named, fields = bind_outputs(scorable, resolved.signature, config.outputs)
    plan = ScoringPlan(model=resolved.ref, inputs=bound, outputs=named, batch_size=config.batch_size)
    writer = (decoded.writeStream.option("checkpointLocation", checkpoint_location)
              .foreachBatch(_process(plan, T.StructType(scorable.fields + fields), sink, dead_letter,
                                     isinstance(source, KafkaSource))))
    drain_to = kafka_source.end_offsets(source.client, source.topics, source.timeout_seconds) \
        if available_now and isinstance(source, KafkaSource) else None
    writer = _triggered(writer, trigger, available_now, drain_to)
    for target in filter(None, (sink, dead_letter)):
        target.check(spark)
    claim_checkpoint(spark, checkpoint_location, source, str(model), resolved.ref.fingerprint, allow_model_change)
    if query_name:
        writer = writer.queryName(query_name)
    query = writer.start()
    if drain_to is not None:
        threading.Thread(target=_stop_when_drained, args=(query, drain_to, source.topic), daemon=True,
                         name="sparkdl-available-now").start()
    return query


def _stop_when_drained(query, targets: dict, topic: Optional[str], poll_seconds: float = 0.2) -> None:
    """Stop `query` once a committed micro-batch reached `targets` ({(topic, partition): offset}).

    Spark runs a Python source under `Trigger.AvailableNow` as a single Trigger.Once batch, which
    after a restart is just the re-run of the last uncommitted batch; draining with bounded
    micro-batches (max_records_per_trigger) needs this instead. Both connectors report
    {"<topic>": {"<partition>": n}} (sparkdl's source before topic patterns: {"<partition>": n}
    of `topic`).
    """
    if not targets:  # a topic pattern that matches no topic yet: nothing to drain
        query.stop()
        return
    while query.isActive:
        progress = query.lastProgress
        if progress and progress["sources"]:
            end = parse_offsets(progress["sources"][0]["endOffset"], topic)
            if end and all(end.get(tp, -1) >= target for tp, target in targets.items()):
                query.stop()
                return
        time.sleep(poll_seconds)
