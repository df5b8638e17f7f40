# Databricks notebook source
# MAGIC %md
# MAGIC # 3. Real-time scoring of a Kafka topic
# MAGIC `sparkdl.score_stream` scores a Kafka topic (or a directory files land in) with Structured
# MAGIC Streaming, using the same model cache and scoring as `sparkdl.predict`. Offsets live in the
# MAGIC checkpoint, so a restarted query continues where it stopped; the Parquet sink writes every
# MAGIC message exactly once, and messages that cannot be scored go to a dead-letter output.
# MAGIC
# MAGIC Set the widgets `bootstrap` (Kafka `HOST:PORT`) and `topic`. With `produce_sample` = `true` the
# MAGIC notebook first writes `messages` sample JSON messages to a fresh topic `<topic>-<run id>`, so a
# MAGIC re-run never scores an earlier run's messages; with `false` it reads `topic` from its earliest offset.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/ml/libs/sparkdl_tf-0.1.0-py3-none-any.whl confluent-kafka

# COMMAND ----------

# MAGIC %run ./00_setup

# COMMAND ----------

import json
import time

import numpy as np
from pyspark.sql import functions as F

BOOTSTRAP = param("bootstrap", "localhost:9092")
TOPIC = param("topic", "sparkdl-notebook-events")
MESSAGES = int(param("messages", "20000"))
PRODUCE_SAMPLE = param("produce_sample", "true").lower() == "true"
if PRODUCE_SAMPLE:
    TOPIC = f"{TOPIC}-{RUN_ID}"  # this run's own topic: a re-run never reads an earlier run's messages
out_dir = WORK_DIR.rstrip("/") + "/03_stream"
print(f"Kafka {BOOTSTRAP}, topic {TOPIC!r}; outputs under {out_dir}")

MODEL = os.path.join(tempfile.mkdtemp(prefix="sparkdl-model-"), "classifier.keras")
small_classifier().save(MODEL)  # any model works; an untrained one keeps this notebook short

# COMMAND ----------

# MAGIC %md
# MAGIC ## Sample messages
# MAGIC Each message is JSON `{"id": ..., "features": [64 floats]}` keyed by its id; two are poison
# MAGIC (not JSON, wrong tensor size) to show the dead-letter output.

# COMMAND ----------

if PRODUCE_SAMPLE:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    if TOPIC not in admin.list_topics(timeout=10).topics:
        for future in admin.create_topics([NewTopic(TOPIC, 4, 1)]).values():
            future.result(timeout=30)
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    features = np.random.default_rng(0).random((MESSAGES, 64), dtype=np.float32)
    for i in range(MESSAGES):
        producer.produce(TOPIC, key=str(i), value=json.dumps({"id": i, "features": features[i].tolist()}))
        if i % 5000 == 0:
            producer.poll(0)
    producer.produce(TOPIC, key="poison-1", value=b"this is not json")
    producer.produce(TOPIC, key="poison-2", value=json.dumps({"id": -1, "features": [1.0, 2.0]}))
    assert producer.flush(30) == 0, "some sample messages were not delivered"
    print(f"produced {MESSAGES} messages and 2 poison messages to {TOPIC!r}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Start the stream: Kafka → model → Parquet
# MAGIC `max_records_per_trigger` bounds each micro-batch; each batch logs rows, duration, rows/s and
# MAGIC end-to-end latency.

# COMMAND ----------

query = sparkdl.score_stream(
    spark, MODEL,
    source=sparkdl.KafkaSource(BOOTSTRAP, TOPIC, schema="id long, features array<float>"),
    sink=sparkdl.ParquetSink(out_dir + "/scored"),
    dead_letter=sparkdl.ParquetSink(out_dir + "/dead_letter"),
    checkpoint_location=out_dir + "/checkpoint", trigger="1 second", max_records_per_trigger=5000,
    outputs={"output_0": "probabilities"}, query_name="sparkdl_notebook_stream")
print("started", query.name, query.id)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Watch it
# MAGIC `query.lastProgress` is Spark's own progress report; here we poll it until the stream has
# MAGIC read what was produced (or a time limit passes), then stop the query cleanly.

# COMMAND ----------

expected = MESSAGES + 2 if PRODUCE_SAMPLE else None
deadline, seen_batches, total = time.time() + float(param("watch_seconds", "120")), set(), 0
while time.time() < deadline and query.isActive:
    for progress in query.recentProgress:
        if progress["batchId"] not in seen_batches and progress["numInputRows"]:
            seen_batches.add(progress["batchId"])
            total += progress["numInputRows"]
            print(f"batch {progress['batchId']:>3}: {progress['numInputRows']:>5} rows in "
                  f"{progress['batchDuration'] / 1000:.2f} s ({progress['processedRowsPerSecond']:,.0f} rows/s)")
    if expected is not None and total >= expected:
        break
    time.sleep(1)
while query.status["isTriggerActive"]:  # let the running micro-batch finish, then stop
    time.sleep(0.2)
query.stop()
print(f"stopped after {total} rows; status: {query.status['message']!r}")
assert query.exception() is None, query.exception()

# COMMAND ----------

scored = spark.read.parquet(out_dir + "/scored")
dead = spark.read.parquet(out_dir + "/dead_letter")
scored.select("id", F.col("key").cast("string").alias("key"), "partition", "offset",
              F.round(F.array_max("probabilities"), 3).alias("top")).show(5)
dead.select(F.col("key").cast("string").alias("key"), "error").show(truncate=80)
counts = scored.agg(F.count("*").alias("rows"), F.countDistinct("id").alias("ids")).first()
print(f"scored rows: {counts['rows']}, distinct ids: {counts['ids']}, dead letters: {dead.count()}")
if PRODUCE_SAMPLE:
    assert counts["rows"] == counts["ids"] == MESSAGES, "every message exactly once"
    assert dead.count() == 2

# COMMAND ----------

# MAGIC %md
# MAGIC ## Trying it out: the console sink, draining what is there
# MAGIC `available_now=True` processes what the topic holds (in batches of at most
# MAGIC `max_records_per_trigger`) and stops by itself.

# COMMAND ----------

preview = sparkdl.score_stream(
    spark, MODEL, source=sparkdl.KafkaSource(BOOTSTRAP, TOPIC, schema="id long, features array<float>"),
    sink=sparkdl.ConsoleSink(rows=3), checkpoint_location=out_dir + "/console_checkpoint",
    max_records_per_trigger=max(MESSAGES // 2, 1), available_now=True)
preview.awaitTermination(120)
print("console query active:", preview.isActive, "| batches:", len(preview.recentProgress))
assert not preview.isActive and preview.exception() is None
