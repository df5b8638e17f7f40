"""sparkdl's Kafka source on Spark's Python Data Source API (pyspark >= 4.0; format `sparkdl_kafka`).

Driver: `KafkaStreamReader` plans offset ranges per (topic, partition) and micro-batch
(kafka_source.py has the clients and the planning, kafka_topics.py the topics and the offsets'
JSON). Executors: `read` consumes a task's group of ranges and hands Spark Arrow record batches
of up to READ_BATCH rows. Rows have the schema of Spark's `kafka` source: key, value, topic,
partition, offset, timestamp. Import this module through `kafka_source.data_source()`.
"""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

from .kafka_client import KafkaClient
from .kafka_source import (
    NAME,
    _consumer,
    end_offsets,
    fetched_high_watermarks,
    group_ranges,
    offset_ranges,
    take,
    topic_partitions,
    watermarks,
)
from .kafka_topics import Topics, offsets_json, parse_offsets

SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
READ_BATCH = 5000  # records per consume() call and per Arrow batch handed to Spark
ARROW_SCHEMA = pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                          ("partition", pa.int32()), ("offset", pa.int64()), ("timestamp", pa.timestamp("us", "UTC"))])


def _record_batch(messages) -> pa.RecordBatch:
    """Kafka messages -> one Arrow batch with SCHEMA's columns."""
    return pa.RecordBatch.from_arrays([
        pa.array([m.key() for m in messages], pa.binary()),
        pa.array([m.value() for m in messages], pa.binary()),
        pa.array([m.topic() for m in messages], pa.string()),
        pa.array([m.partition() for m in messages], pa.int32()),
        pa.array([m.offset() for m in messages], pa.int64()),
        pa.array([m.timestamp()[1] * 1000 for m in messages], pa.timestamp("us", "UTC")),
    ], schema=ARROW_SCHEMA)


def _kept(messages, positions: dict, stops: dict) -> list:
    """Executor: the messages inside their (topic, partition)'s range, advancing `positions`."""
    kept = []
    for message in messages:
        if message.error():
            raise RuntimeError(f"Kafka {message.topic()}[{message.partition()}]: {message.error()}")
        key, offset = (message.topic(), message.partition()), message.offset()
        if key in stops and positions[key] <= offset < stops[key]:
            kept.append(message)
            positions[key] = offset + 1
    return kept


class KafkaStreamReader(DataSourceStreamReader):
    """Driver: plans offset ranges per micro-batch. Executors: read a task's group of ranges."""

    def __init__(self, options):
        self.client = KafkaClient.from_options(options)
        self.topics = Topics(options.get("topic"), options.get("topicPattern"))
        self.starting = options.get("startingOffsets", "earliest")
        self.max_rows = int(options["maxRecordsPerTrigger"]) if options.get("maxRecordsPerTrigger") else None
        self.timeout = float(options.get("timeoutSeconds", "10"))
        self.max_tasks = int(options.get("maxTasks", "0")) or 1_000_000

    def initialOffset(self) -> dict:
        if self.starting == "latest":
            return offsets_json(end_offsets(self.client, self.topics, self.timeout))
        partitions = topic_partitions(self.client, self.topics, self.timeout)
        marks = watermarks(self.client, partitions, self.timeout)
        return offsets_json({tp: int(marks[tp][0]) for tp in partitions})

    def getDefaultReadLimit(self):
        from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def _offsets(self, offsets) -> dict:
        """{(topic, partition): n} of checkpoint offsets, the one-topic shape {"0": n} included."""
        return parse_offsets(offsets, self.topics.name)

    def latestOffset(self, start: dict, limit=None) -> dict:
        """Driver: the next batch's end offsets, for every partition of every topic read now; a topic or
        partition that appeared after the query started is read from its start."""
        current = self._offsets(start)
        present = topic_partitions(self.client, self.topics, self.timeout)
        for tp in present:
            current.setdefault(tp, 0)
        latest = fetched_high_watermarks(self.client, {tp: current[tp] for tp in present}, self.timeout)
        return offsets_json(take(current, latest, getattr(limit, "max_rows", None)))

    def partitions(self, start: dict, end: dict):
        ranges = offset_ranges(self._offsets(start), self._offsets(end))
        return [InputPartition(group) for group in group_ranges(ranges, self.max_tasks)]

    def read(self, partition):
        """Executor: the records of this task's offset ranges, as Arrow record batches.

        All ranges are assigned to one consumer at once and read interleaved (re-assigning one
        consumer range by range waits on the previous fetch, ~0.4 s per range); a partition is
        paused once its range is read."""
        from confluent_kafka import TopicPartition

        stops = {(t, n): stop for t, n, _, stop in partition.value}
        positions = {(t, n): first for t, n, first, _ in partition.value}
        consumer = _consumer(self.client, int(self.timeout * 1000))
        try:
            consumer.assign([TopicPartition(t, n, first) for (t, n), first in positions.items()])
            idle = 0.0
            while any(positions[k] < stops[k] for k in stops):
                wanted = sum(stops[k] - positions[k] for k in stops)
                messages = consumer.consume(num_messages=min(READ_BATCH, wanted), timeout=1.0)
                kept = _kept(messages, positions, stops)
                done = [k for k in stops if positions[k] < stops[k] and
                        consumer.position([TopicPartition(*k)])[0].offset >= stops[k]]
                for k in done:  # only control records (transaction markers) were left
                    positions[k] = stops[k]
                consumer.pause([TopicPartition(*k) for k in stops if positions[k] >= stops[k]])
                if kept:
                    idle = 0.0
                    yield _record_batch(kept)
                elif not messages and not done:
                    idle += 1.0
                    if idle > self.timeout:
                        missing = {k: (positions[k], stops[k]) for k in stops if positions[k] < stops[k]}
                        raise RuntimeError(f"Kafka: no record within {self.timeout:.0f}s for (topic, partition): "
                                           f"(next, end) offsets {missing}; was the topic truncated?")
        finally:
            consumer.close()

    def commit(self, end: dict) -> None:
        """Nothing to do: Spark's checkpoint holds the offsets."""


class KafkaDataSource(DataSource):
    """Options: bootstrap (and securityProtocol, saslMechanism, saslUsername, saslPassword), topic or
    topicPattern (a regex matching whole topic names), startingOffsets (earliest|latest),
    maxRecordsPerTrigger, timeoutSeconds, maxTasks (Spark tasks per micro-batch; default: one per Kafka partition)."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        return KafkaStreamReader(self.options)
