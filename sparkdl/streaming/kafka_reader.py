"""sparkdl's Kafka source on Spark's Python Data Source API (pyspark >= 4.0; format `sparkdl_kafka`).

Driver: `KafkaStreamReader` plans offset ranges per micro-batch (kafka_source.py has the clients
and the planning). Executors: `read` consumes a task's group of ranges and hands Spark Arrow
record batches of up to READ_BATCH rows. Rows have the schema of Spark's `kafka` source: key,
value, topic, partition, offset, timestamp. Import this module through `kafka_source.data_source()`.
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
    take,
    topic_partitions,
    watermarks,
)

SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
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


class KafkaStreamReader(DataSourceStreamReader):
    """Driver: plans offset ranges per micro-batch. Executors: read a task's group of ranges."""

    def __init__(self, options):
        self.client = KafkaClient.from_options(options)
        self.topic = options["topic"]
        self.starting = options.get("startingOffsets", "earliest")
        self.max_rows = int(options["maxRecordsPerTrigger"]) if options.get("maxRecordsPerTrigger") else None
        self.timeout = float(options.get("timeoutSeconds", "10"))
        self.max_tasks = int(options.get("maxTasks", "0")) or 1_000_000

    def initialOffset(self) -> dict:
        if self.starting == "latest":
            return end_offsets(self.client, self.topic, self.timeout)
        partitions = topic_partitions(self.client, self.topic, self.timeout)
        marks = watermarks(self.client, self.topic, partitions, self.timeout)
        return {str(p): int(marks[p][0]) for p in partitions}

    def getDefaultReadLimit(self):
        from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def latestOffset(self, start: dict, limit=None) -> dict:
        """Driver: the next batch's end offsets, for every partition the topic has now."""
        current = {int(p): int(o) for p, o in start.items()}
        for p in topic_partitions(self.client, self.topic, self.timeout):
            current.setdefault(p, 0)  # a partition added after the query started: read from its start
        latest = fetched_high_watermarks(self.client, self.topic, current, self.timeout)
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
        consumer = _consumer(self.client, int(self.timeout * 1000))
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
    """Options: bootstrap (and securityProtocol, saslMechanism, saslUsername, saslPassword), topic,
    startingOffsets (earliest|latest), maxRecordsPerTrigger, timeoutSeconds,
    maxTasks (Spark tasks per micro-batch; default: one per Kafka partition)."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        return KafkaStreamReader(self.options)
