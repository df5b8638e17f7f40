"""A long stream on the real Apache Kafka broker: driver memory and accumulators stay flat.

SPARKDL_SOAK_BATCHES micro-batches (default 40 in `make test`; the issue's soak used 300) of
BATCH_ROWS messages each, read with sparkdl's Kafka source. Between the first SETTLE batches and the
end it checks what a 24/7 stream would leak on the driver: the accumulator registry (PySpark never
frees an accumulator), the driver's Python RSS and the JVM heap after a full GC. Every message is
scored exactly once.
"""
import gc
import os
import time

import pytest

import sparkdl
from tests import models
from tests.streaming.broker import create_topic, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
BATCHES = int(os.environ.get("SPARKDL_SOAK_BATCHES", "40"))
BATCH_ROWS = 20
SETTLE = 8  # batches before the first sample: workers started, caches warm
MIB = 1 << 20


def _python_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _jvm_heap_used(spark) -> int:
    runtime = spark.sparkContext._jvm.java.lang.Runtime.getRuntime()
    spark.sparkContext._jvm.java.lang.System.gc()
    return runtime.totalMemory() - runtime.freeMemory()


def _sample(spark) -> dict:
    from pyspark import accumulators

    gc.collect()
    return {"accumulators": len(accumulators._accumulatorRegistry), "rss": _python_rss(),
            "heap": _jvm_heap_used(spark)}


def _wait_for_batches(query, count: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while (query.lastProgress or {}).get("batchId", -1) + 1 < count:
        assert query.exception() is None, query.exception()
        assert time.time() < deadline, f"only {query.lastProgress and query.lastProgress['batchId']} batches ran"
        time.sleep(0.2)


def test_long_stream_keeps_driver_memory_and_accumulators_flat(spark, kafka, tmp_path):
    _, keras_path, _ = models.save_both(models.mlp(8, 3, seed=3), tmp_path / "m")
    topic = f"soak-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    total = BATCHES * BATCH_ROWS
    produce(kafka, topic, [(None, {"id": i, "features": [float(i % 11)] * 8}) for i in range(total)])
    source = sparkdl.KafkaSource(kafka, topic, schema="id long, features array<float>")
    query = sparkdl.score_stream(spark, keras_path, source=source, sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                                 checkpoint_location=str(tmp_path / "ckpt"), trigger="10 milliseconds",
                                 max_records_per_trigger=BATCH_ROWS)
    try:
        _wait_for_batches(query, SETTLE, timeout=120)
        first = _sample(spark)
        _wait_for_batches(query, BATCHES, timeout=BATCHES * 3)
        last = _sample(spark)
    finally:
        query.stop()
    ids = [r.id for r in spark.read.parquet(str(tmp_path / "out")).select("id").collect()]
    assert sorted(ids) == list(range(total))
    assert last["accumulators"] == first["accumulators"], (first, last)
    grown = {key: (last[key] - first[key]) / MIB for key in ("rss", "heap")}
    print(f"soak: {BATCHES} batches, growth after batch {SETTLE}: python rss {grown['rss']:.1f} MiB, "
          f"jvm heap {grown['heap']:.1f} MiB")
    assert grown["rss"] < 40, (first, last)  # no per-batch Python objects kept (a batch's objects ~ MiBs)
    assert grown["heap"] < 64, (first, last)  # Spark keeps the last 100 progress reports; no per-batch state
