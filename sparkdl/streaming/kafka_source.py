"""A Kafka source for Structured Streaming on Spark's Python Data Source API (format `sparkdl_kafka`).

Used when Spark's own `kafka` connector is not on the classpath. Offsets are a JSON dict
{"<partition>": next offset} stored in the query's checkpoint (never in a consumer group), so a
restarted query resumes exactly where its last committed micro-batch ended. Driver-side calls
(initial/latest offsets) and executor-side reads each open their own short-lived client: Kafka
clients cannot be pickled, so none is kept on `self`. A read stops once the consumer's position
reaches the planned end, which also steps over transaction markers. Records reach Spark as Arrow
record batches of up to READ_BATCH rows, not one Python tuple at a time. A micro-batch's offset
ranges are grouped into at most `maxTasks` Spark tasks (score_stream: one per core), since a task
per Kafka partition makes small batches pay many task start-ups.

This module holds the Kafka clients and the offset planning (no pyspark import, so it loads on
every Spark version); the Data Source classes are in kafka_reader.py, loaded by `data_source()`
on pyspark >= 4.0 only.
"""
from __future__ import annotations

import time
import uuid

from ..runtime.session import require_pyspark
from .kafka_client import client_config

NAME = "sparkdl_kafka"


def _consumer(client, timeout_ms: int):
    """A short-lived consumer of `client` (a KafkaClient, or a 'host:port' string)."""
    from confluent_kafka import Consumer

    return Consumer({**client_config(client), "group.id": f"sparkdl-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "enable.partition.eof": False,
                     "socket.timeout.ms": timeout_ms, "session.timeout.ms": 6000, "auto.offset.reset": "earliest"})


def topic_partitions(client, topic: str, timeout: float) -> list:
    """Partition ids of `topic` (driver side); raise RuntimeError when unreachable or missing."""
    from confluent_kafka import KafkaException

    consumer = _consumer(client, int(timeout * 1000))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
    except KafkaException as error:
        raise RuntimeError(f"cannot reach Kafka at {client} within {timeout:.0f}s: {error}") from None
    finally:
        consumer.close()
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise RuntimeError(f"Kafka topic {topic!r} does not exist at {client}; create it first")
    return sorted(info.partitions)


def fetched_high_watermarks(client, topic: str, start: dict, timeout: float) -> dict:
    """{partition: high watermark} as the brokers' fetch responses report it (driver side).

    Read from a fetch rather than a ListOffsets request: some Kafka-protocol brokers (tansu)
    answer ListOffsets "latest" wrongly for multi-record batches, and a fetch's high watermark is
    exact on every broker. The consumer starts at `start`, so the fetch reads little.
    """
    from confluent_kafka import TopicPartition

    consumer = _consumer(client, int(timeout * 1000))
    try:
        consumer.assign([TopicPartition(topic, p, max(0, o)) for p, o in start.items()])
        marks, deadline = {}, time.time() + timeout
        while len(marks) < len(start):
            consumer.consume(num_messages=1, timeout=0.05)
            for p in start:
                high = consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
                if high >= 0:
                    marks[p] = high
            if time.time() > deadline:
                raise RuntimeError(f"Kafka at {client}: no fetch response for {topic} partitions "
                                   f"{sorted(set(start) - set(marks))} within {timeout:.0f}s")
        return marks
    finally:
        consumer.close()


def end_offsets(client, topic: str, timeout: float) -> dict:
    """{"<partition>": offset after the last record} for every partition of `topic` (driver side)."""
    partitions = topic_partitions(client, topic, timeout)
    ends = fetched_high_watermarks(client, topic, {p: 0 for p in partitions}, timeout)
    return {str(p): int(o) for p, o in ends.items()}


def watermarks(client, topic: str, partitions, timeout: float) -> dict:
    """{partition: (low, high)} offsets (driver side)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(client, int(timeout * 1000))
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
                for p in partitions}
    finally:
        consumer.close()


def take(start: dict, latest: dict, max_rows) -> dict:
    """End offsets that read at most `max_rows` records past `start`, shared fairly by partitions."""
    end = dict(start)
    budget = max_rows if max_rows is not None else float("inf")
    pending = {p: latest[p] - start.get(p, 0) for p in latest if latest[p] > start.get(p, 0)}
    while budget > 0 and pending:
        share = max(1, int(budget // len(pending))) if budget != float("inf") else None
        for p in sorted(pending):
            step = pending[p] if share is None else min(pending[p], share, int(budget))
            end[p] = end.get(p, 0) + step
            pending[p] -= step
            budget -= step
            if budget <= 0:
                break
        pending = {p: n for p, n in pending.items() if n > 0}
    for p in latest:
        end.setdefault(p, start.get(p, latest[p]))
    return end


def group_ranges(ranges: list, groups: int) -> list:
    """Split (topic, partition, first, stop) ranges into at most `groups` lists with similar record
    counts (largest first, each to the lightest list), so a micro-batch of a topic with many
    partitions runs as a few Spark tasks instead of one small task per Kafka partition."""
    buckets = [[0, []] for _ in range(max(1, min(groups, len(ranges))))]
    for item in sorted(ranges, key=lambda r: r[3] - r[2], reverse=True):
        lightest = min(buckets, key=lambda bucket: bucket[0])
        lightest[0] += item[3] - item[2]
        lightest[1].append(item)
    return [sorted(bucket[1]) for bucket in buckets if bucket[1]]


def data_source():
    """The Data Source class to register with `spark.dataSource.register` (driver side).

    Raises ConfigError on pyspark < 4.0, which has no Python Data Source API, naming Spark's own
    Kafka connector as the way to read Kafka there.
    """
    import pyspark

    require_pyspark((4, 0), "sparkdl's Kafka source (Spark's Python Data Source API)",
                    f"Put Spark's own Kafka connector on the classpath and score_stream uses it: spark-submit "
                    f"--packages org.apache.spark:spark-sql-kafka-0-10_2.12:{pyspark.__version__} (Databricks and "
                    f"EMR clusters have it already)")
    from .kafka_reader import KafkaDataSource

    return KafkaDataSource
