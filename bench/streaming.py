"""Streaming benchmark: a steady JSON load into a Kafka topic, scored by score_stream to Parquet.

For each offered rate (messages/s of {"id", "features": 64 floats} for the inference MLP), a
producer sends for --seconds while score_stream (1 s trigger) writes to a Parquet sink. Reports
the sustained rate (rows committed per second between WARMUP_SECONDS and the producer's end: it
equals the offered rate when the stream keeps up), how long the stream took to finish after the
producer stopped, and the end-to-end latency p50/p99 per row: the commit time of its micro-batch
(the batch directory's _SUCCESS file) minus its Kafka timestamp, over all rows and over the rows
produced after the first WARMUP_SECONDS ("steady"). Before the first rate, a short stream on a
small topic starts the Python workers of the Kafka source and the scorer, untimed. Runs a real
Apache Kafka broker (KRaft, jars fetched into .cache/jars) on 127.0.0.1. Writes bench-output/streaming.json.

    python bench/streaming.py [--rates 5000,10000] [--seconds 60]
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.services.kafka import kafka_broker  # noqa: E402
from tests.streaming.broker import create_topic  # noqa: E402

OUT = ROOT / "bench-output"
PARTITIONS = 16
WARMUP_SECONDS = 10  # "steady" latency counts messages produced after this much of the run


def steady_producer(bootstrap: str, topic: str, rate: int, seconds: float, sent: list) -> None:
    """Send `rate` messages per second for `seconds`, in 10 ms ticks (normal producer batching)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000})
    rng = np.random.default_rng(0)
    pool = [json.dumps({"id": 0, "features": rng.normal(size=64).round(4).tolist()})[len('{"id": 0'):]
            for _ in range(64)]
    started, count = time.time(), 0
    while (elapsed := time.time() - started) < seconds:
        due = int(rate * elapsed)
        while count < due:
            producer.produce(topic, key=str(count).encode(), value=f'{{"id": {count}{pool[count % 64]}'.encode(),
                             partition=count % PARTITIONS)
            count += 1
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(60)
    sent.append(count)


def committed_rows(sink: Path, start: float, stop: float) -> int:
    """Rows of the micro-batches committed (their _SUCCESS written) between start and stop."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(part).num_rows for batch_dir in sink.glob("batch_id=*")
               if start <= (batch_dir / "_SUCCESS").stat().st_mtime < stop for part in batch_dir.glob("*.parquet"))


def latencies(sink: Path, since: float = 0.0) -> np.ndarray:
    """Per-row latency (batch commit - Kafka timestamp) of rows produced at or after `since`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = []
    for batch_dir in sink.glob("batch_id=*"):
        committed = (batch_dir / "_SUCCESS").stat().st_mtime
        column = pq.read_table(batch_dir, columns=["timestamp"]).column(0).cast(pa.timestamp("us", "UTC"))
        stamps = column.cast(pa.int64()).to_numpy() / 1e6
        values.append((committed - stamps)[stamps >= since])
    return np.concatenate(values) if values else np.zeros(0)


def run_rate(spark, bootstrap: str, model_path: str, rate: int, seconds: float) -> dict:
    import sparkdl

    topic = f"load-{rate}-{time.time_ns()}"
    create_topic(bootstrap, topic, PARTITIONS)
    work = Path(tempfile.mkdtemp(prefix="sparkdl-bench-stream-"))
    query = sparkdl.score_stream(spark, model_path, source=sparkdl.KafkaSource(bootstrap, topic,
                                                                               starting_offsets="earliest",
                                                                               schema="id long, features array<float>"),
                                 sink=sparkdl.ParquetSink(str(work / "out")), checkpoint_location=str(work / "ckpt"),
                                 trigger="1 second")
    while query.lastProgress is None:  # the query is up and has run its first (empty) trigger
        time.sleep(0.1)
    sent: list = []
    producer = threading.Thread(target=steady_producer, args=(bootstrap, topic, rate, seconds, sent))
    started = time.time()
    producer.start()
    producer.join()
    deadline = time.time() + 3 * seconds
    while sum(p["numInputRows"] for p in query.recentProgress) < sent[0] and time.time() < deadline:
        time.sleep(0.5)
    finished = time.time()
    query.stop()
    scored = spark.read.parquet(str(work / "out")).count()
    lat, steady = latencies(work / "out"), latencies(work / "out", since=started + WARMUP_SECONDS)
    window = (started + WARMUP_SECONDS, started + seconds)
    return {"offered_per_s": rate, "sent": sent[0], "scored": scored,
            "sustained_rows_per_s": committed_rows(work / "out", *window) / (window[1] - window[0]),
            "drain_seconds_after_producer": round(finished - started - seconds, 2),
            "latency_p50_s": float(np.percentile(lat, 50)), "latency_p99_s": float(np.percentile(lat, 99)),
            "steady_p50_s": float(np.percentile(steady, 50)), "steady_p99_s": float(np.percentile(steady, 99))}


def main():
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5000", help="comma separated offered loads, msgs/s")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    from pyspark.sql import SparkSession

    from sparkdl.tf import example_models

    OUT.mkdir(exist_ok=True)
    model_path = str(OUT / "stream-mlp.keras")
    example_models.mlp().save(model_path)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    import sparkdl

    warm = spark.range(64).selectExpr("id", "array_repeat(cast(id as float), 64) AS features")
    sparkdl.predict(warm, model_path).count()  # start the Python workers and load the model untimed
    results = []
    with kafka_broker(Path(tempfile.mkdtemp()) / "kafka") as bootstrap:
        run_rate(spark, bootstrap, model_path, 2000, WARMUP_SECONDS + 2)  # warm-up: workers started, untimed
        for rate in [int(r) for r in args.rates.split(",")]:
            results.append(run_rate(spark, bootstrap, model_path, rate, args.seconds))
    spark.stop()
    print(f"{'offered/s':>10} {'sent':>8} {'scored':>8} {'sustained/s':>12} {'drain s':>8} {'p50 s':>7} "
          f"{'p99 s':>7} {'steady p50':>11} {'steady p99':>11}")
    for r in results:
        print(f"{r['offered_per_s']:>10} {r['sent']:>8} {r['scored']:>8} {r['sustained_rows_per_s']:>12.0f} "
              f"{r['drain_seconds_after_producer']:>8.1f} {r['latency_p50_s']:>7.2f} {r['latency_p99_s']:>7.2f} "
              f"{r['steady_p50_s']:>11.2f} {r['steady_p99_s']:>11.2f}")
    (OUT / "streaming.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
