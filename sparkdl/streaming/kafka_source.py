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

Rows have the schema of Spark's `kafka` source: key, value, topic, partition, offset, timestamp.
"""
from __future__ import annotations

import time
import uuid

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
NAME = "sparkdl_kafka"
READ_BATCH = 5000  # records per consume() call and per Arrow batch handed to Spark
ARROW_SCHEMA = pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                          ("partition", pa.int32()), ("offset", pa.int64()), ("timestamp", pa.timestamp("us", "UTC"))])


def _record_batch(messages, topic: str) -> pa.RecordBatch:
    """Kafka messages -> one Arrow batch with SCHEMA's columns."""
    return pa.RecordBatch.from_arrays([
        pa.array([m.key() for m in messages], pa.binary()),
        pa.array([m.value() for m in messages], pa.binary()),
        pa.array([topic] * len(messages), pa.string()),
        pa.array([m.partition() for m in messages], pa.int32()),
        pa.array([m.offset() for m in messages], pa.int64()),
        pa.array([m.timestamp()[1] * 1000 for m in messages], pa.timestamp("us", "UTC")),
    ], schema=ARROW_SCHEMA)


def _consumer(bootstrap: str, timeout_ms: int):
    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"sparkdl-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "enable.partition.eof": False,
                     "socket.timeout.ms": timeout_ms, "session.timeout.ms": 6000, "auto.offset.reset": "earliest"})


def topic_partitions(bootstrap: str, topic: str, timeout: float) -> list:
    """Partition ids of `topic` (driver side); raise RuntimeError when unreachable or missing."""
    from confluent_kafka import KafkaException

    consumer = _consumer(bootstrap, int(timeout * 1000))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
    except KafkaException as error:
        raise RuntimeError(f"cannot reach Kafka at {bootstrap} within {timeout:.0f}s: {error}") from None
    finally:
        consumer.close()
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise RuntimeError(f"Kafka topic {topic!r} does not exist at {bootstrap}; create it first")
    return sorted(info.partitions)


def fetched_high_watermarks(bootstrap: str, topic: str, start: dict, timeout: float) -> dict:
    """{partition: high watermark} as the brokers' fetch responses report it (driver side).

    Read from a fetch rather than a ListOffsets request: some Kafka-protocol brokers (tansu)
    answer ListOffsets "latest" wrongly for multi-record batches, and a fetch's high watermark is
    exact on every broker. The consumer starts at `start`, so the fetch reads little.
    """
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap, int(timeout * 1000))
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
                raise RuntimeError(f"Kafka at {bootstrap}: no fetch response for {topic} partitions "
                                   f"{sorted(set(start) - set(marks))} within {timeout:.0f}s")
        return marks
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str, timeout: float) -> dict:
    """{"<partition>": offset after the last record} for every partition of `topic` (driver side)."""
    partitions = topic_partitions(bootstrap, topic, timeout)
    ends = fetched_high_watermarks(bootstrap, topic, {p: 0 for p in partitions}, timeout)
    return {str(p): int(o) for p, o in ends.items()}


def watermarks(bootstrap: str, topic: str, partitions, timeout: float) -> dict:
    """{partition: (low, high)} offsets (driver side)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap, int(timeout * 1000))
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


class KafkaStreamReader(DataSourceStreamReader):
    """Driver: plans offset ranges per micro-batch. Executors: read a task's group of ranges."""

    def __init__(self, options):
        self.bootstrap = options["bootstrap"]
        self.topic = options["topic"]
        self.starting = options.get("startingOffsets", "earliest")
        self.max_rows = int(options["maxRecordsPerTrigger"]) if options.get("maxRecordsPerTrigger") else None
        self.timeout = float(options.get("timeoutSeconds", "10"))
        self.max_tasks = int(options.get("maxTasks", "0")) or 1_000_000

    def initialOffset(self) -> dict:
        if self.starting == "latest":
            return end_offsets(self.bootstrap, self.topic, self.timeout)
        partitions = topic_partitions(self.bootstrap, self.topic, self.timeout)
        marks = watermarks(self.bootstrap, self.topic, partitions, self.timeout)
        return {str(p): int(marks[p][0]) for p in partitions}

    def getDefaultReadLimit(self):
        from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def latestOffset(self, start: dict, limit=None) -> dict:
        current = {int(p): int(o) for p, o in start.items()}
        latest = fetched_high_watermarks(self.bootstrap, self.topic, current, self.timeout)
        end = take(current, latest, getattr(limit, "max_rows", None))
        return {str(p): int(o) for p, o in end.items()}

    def partitions(self, start: dict, end: dict):
        ranges = [(self.topic, int(p), int(start.get(p, 0)), int(end[p]))
                  for p in sorted(end, key=int) if int(end[p]) > int(start.get(p, 0))]
        return [InputPartition(group) for group in group_ranges(ranges, self.max_tasks)]

    def read(self, partition):
        """Executor: the records of this task's offset ranges, as Arrow record batches.

        All ranges are assigned to one consumer at once and read interleaved (re-assigning one
        consumer range by range waits on the previous fetch, ~0.4 s per range); a partition is
        paused once its range is read."""
        from confluent_kafka import TopicPartition

        topic = partition.value[0][0]
        stops = {number: stop for _, number, _, stop in partition.value}
        positions = {number: first for _, number, first, _ in partition.value}
        consumer = _consumer(self.bootstrap, int(self.timeout * 1000))
        try:
            consumer.assign([TopicPartition(topic, n, first) for n, first in positions.items()])
            idle = 0.0
            while any(positions[n] < stops[n] for n in stops):
                wanted = sum(stops[n] - positions[n] for n in stops)
                messages = consumer.consume(num_messages=min(READ_BATCH, wanted), timeout=1.0)
                kept = []
                for message in messages:
                    if message.error():
                        raise RuntimeError(f"Kafka {topic}[{message.partition()}]: {message.error()}")
                    number, offset = message.partition(), message.offset()
                    if positions[number] <= offset < stops[number]:
                        kept.append(message)
                        positions[number] = offset + 1
                done = [n for n in stops if positions[n] < stops[n] and
                        consumer.position([TopicPartition(topic, n)])[0].offset >= stops[n]]
                for n in done:  # only control records (transaction markers) were left
                    positions[n] = stops[n]
                consumer.pause([TopicPartition(topic, n) for n in stops if positions[n] >= stops[n]])
                if kept:
                    idle = 0.0
                    yield _record_batch(kept, topic)
                elif not messages and not done:
                    idle += 1.0
                    if idle > self.timeout:
                        missing = {n: (positions[n], stops[n]) for n in stops if positions[n] < stops[n]}
                        raise RuntimeError(f"Kafka {topic}: no record within {self.timeout:.0f}s for partition "
                                           f"(next, end) offsets {missing}; was the topic truncated?")
        finally:
            consumer.close()

    def commit(self, end: dict) -> None:
        """Nothing to do: Spark's checkpoint holds the offsets."""


class KafkaDataSource(DataSource):
    """Options: bootstrap, topic, startingOffsets (earliest|latest), maxRecordsPerTrigger, timeoutSeconds,
    maxTasks (Spark tasks per micro-batch; default: one per Kafka partition)."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        return KafkaStreamReader(self.options)
