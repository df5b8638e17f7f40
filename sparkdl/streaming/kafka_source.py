"""A Kafka source for Structured Streaming on Spark's Python Data Source API (format `sparkdl_kafka`).

Used when Spark's own `kafka` connector is not on the classpath. It reads one topic or every topic
matching a pattern (kafka_topics.py), and topics and partitions that appear while it runs, from
their start. Offsets are a JSON dict {"<topic>": {"<partition>": next offset}} stored in the
query's checkpoint (never in a consumer group), so a restarted query resumes exactly where its
last committed micro-batch ended. Driver-side calls
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
from .kafka_topics import Topics

NAME = "sparkdl_kafka"


def _consumer(client, timeout_ms: int):
    """A short-lived consumer of `client` (a KafkaClient, or a 'host:port' string)."""
    from confluent_kafka import Consumer

    return Consumer({**client_config(client), "group.id": f"sparkdl-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "enable.partition.eof": False,
                     "socket.timeout.ms": timeout_ms, "session.timeout.ms": 6000, "auto.offset.reset": "earliest"})


def topic_partitions(client, topics: Topics, timeout: float) -> list:
    """Sorted (topic, partition) pairs `topics` reads now (driver side); RuntimeError when Kafka is
    unreachable or a named topic is missing (a pattern may match nothing yet)."""
    from confluent_kafka import KafkaException

    consumer = _consumer(client, int(timeout * 1000))
    try:
        metadata = consumer.list_topics(topics.name, timeout=timeout)  # a pattern: every topic
    except KafkaException as error:
        raise RuntimeError(f"cannot reach Kafka at {client} within {timeout:.0f}s: {error}") from None
    finally:
        consumer.close()
    info = metadata.topics.get(topics.name) if topics.name is not None else None
    if topics.name is not None and (info is None or info.error is not None or not info.partitions):
        raise RuntimeError(f"Kafka topic {topics.name!r} does not exist at {client}; create it first")
    return sorted((name, p) for name, info in metadata.topics.items()
                  if info.error is None and topics.matches(name) for p in info.partitions)


def fetched_high_watermarks(client, start: dict, timeout: float) -> dict:
    """{(topic, partition): high watermark} as the brokers' fetch responses report it (driver side).

    Read from a fetch rather than a ListOffsets request: some Kafka-protocol brokers (tansu)
    answer ListOffsets "latest" wrongly for multi-record batches, and a fetch's high watermark is
    exact on every broker. The consumer starts at `start` ({(topic, partition): offset}), so the
    fetch reads little.
    """
    from confluent_kafka import TopicPartition

    consumer = _consumer(client, int(timeout * 1000))
    try:
        consumer.assign([TopicPartition(t, p, max(0, o)) for (t, p), o in start.items()])
        marks, deadline = {}, time.time() + timeout
        while len(marks) < len(start):
            consumer.consume(num_messages=1, timeout=0.05)
            for t, p in start:
                high = consumer.get_watermark_offsets(TopicPartition(t, p), cached=True)[1]
                if high >= 0:
                    marks[(t, p)] = high
            if time.time() > deadline:
                raise RuntimeError(f"Kafka at {client}: no fetch response for (topic, partition) "
                                   f"{sorted(set(start) - set(marks))} within {timeout:.0f}s")
        return marks
    finally:
        consumer.close()


def end_offsets(client, topics: Topics, timeout: float) -> dict:
    """{(topic, partition): offset after the last record} for every partition `topics` reads now (driver side)."""
    partitions = topic_partitions(client, topics, timeout)
    return {tp: int(o) for tp, o in fetched_high_watermarks(client, {tp: 0 for tp in partitions}, timeout).items()}


def watermarks(client, partitions, timeout: float) -> dict:
    """{(topic, partition): (low, high)} offsets of (topic, partition) pairs (driver side)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(client, int(timeout * 1000))
    try:
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=timeout, cached=False)
                for t, p in partitions}
    finally:
        consumer.close()


def offset_ranges(start: dict, end: dict) -> list:
    """(topic, partition, first, stop) of each partition with records from `start` to `end`
    (both {(topic, partition): offset}; a partition missing from `start` starts at 0)."""
    return [(t, p, start.get((t, p), 0), stop) for (t, p), stop in sorted(end.items()) if stop > start.get((t, p), 0)]


def take(start: dict, latest: dict, max_rows) -> dict:
    """End offsets that read at most `max_rows` records past `start`, shared fairly by partitions
    (keys: (topic, partition) pairs, or any sortable partition ids)."""
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
