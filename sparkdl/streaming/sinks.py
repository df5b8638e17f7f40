"""Driver side: where scored micro-batches go, each write keyed by the micro-batch id.

* ParquetSink: each micro-batch is written to `<path>/batch_id=<id>/`, replacing what a failed
  earlier attempt of the same batch left. Spark re-runs an uncommitted batch with the same offsets
  after a crash, so the directory ends up holding every row exactly once. Read it back with
  `spark.read.parquet(path)` (a `batch_id` column comes with it).
* KafkaSink: rows are produced by the executors (key: the input message's key; value: JSON of the
  chosen fields and the predictions). A re-run batch is produced again: at-least-once.
* ConsoleSink: prints the first rows of each batch on the driver, for trying things out.

`check(spark)` runs when the stream starts: a ParquetSink's directory must be writable, a
KafkaSink's brokers must answer within `timeout_seconds`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .. import fs
from ..errors import SourceUnavailableError
from ..runtime.schema import column
from .kafka_client import KafkaClient, KafkaConnection


@dataclass(frozen=True)
class ParquetSink:
    path: str

    def check(self, spark) -> None:
        fs.check_writable(self.path, "ParquetSink path", spark)

    def write(self, df: DataFrame, batch_id: int) -> None:
        df.write.mode("overwrite").parquet(fs.join(self.path, f"batch_id={batch_id}"))


@dataclass(frozen=True)
class KafkaSink(KafkaConnection):
    """`fields`: columns to put in the JSON value besides the predictions (None: all non-binary).
    Keyword-only security settings: as KafkaSource (streaming.kafka_client.KafkaConnection)."""

    topic: str
    fields: Optional[Tuple[str, ...]] = None
    timeout_seconds: float = 10.0

    def check(self, spark) -> None:
        """Ask the brokers for their metadata (driver); SourceUnavailableError when none answers."""
        from confluent_kafka import KafkaException, Producer

        producer = Producer({**self.client.librdkafka(), "socket.timeout.ms": int(self.timeout_seconds * 1000)})
        try:
            producer.list_topics(timeout=self.timeout_seconds)
        except KafkaException as error:
            raise SourceUnavailableError(f"KafkaSink cannot reach Kafka at {self.bootstrap_servers!r} within "
                                         f"{self.timeout_seconds:.0f}s ({error}); check the sink's bootstrap "
                                         f"servers (--kafka-bootstrap) and that the brokers run") from None

    def write(self, df: DataFrame, batch_id: int) -> None:
        binary = {f.name for f in df.schema.fields if f.dataType.typeName() == "binary"}
        fields = self.fields or tuple(c for c in df.columns if c not in binary and c != "key")
        key = F.col("key") if "key" in df.columns else F.lit(None).cast("binary")
        payload = df.select(key.alias("key"), F.to_json(F.struct(*[column(f) for f in fields])).alias("value"))
        payload.foreachPartition(_producer(self.client, self.topic))


def _producer(client: KafkaClient, topic: str):
    def produce(rows):
        """Executor: send the partition's rows and wait until Kafka acknowledged all of them."""
        from confluent_kafka import Producer

        producer = Producer({**client.librdkafka(), "enable.idempotence": False, "linger.ms": 5})
        failures = []
        for row in rows:
            producer.produce(topic, key=row.key, value=row.value,
                             on_delivery=lambda error, _: failures.append(error) if error else None)
            producer.poll(0)
        producer.flush(60)
        if failures or len(producer):
            raise RuntimeError(f"Kafka sink {topic}: {len(failures)} failed and {len(producer)} unacknowledged "
                               f"records, first error {failures[:1]}; the batch will be retried")

    return produce


@dataclass(frozen=True)
class ConsoleSink:
    rows: int = 20

    def check(self, spark) -> None:
        """Nothing to check: the driver's stdout is always there."""

    def write(self, df: DataFrame, batch_id: int) -> None:
        """Score the whole batch (so its counts are complete), then print its first rows."""
        df = df.persist()
        try:
            print(f"-------- micro-batch {batch_id}: {df.count()} rows --------")
            df.show(self.rows, truncate=60)
        finally:
            df.unpersist()
