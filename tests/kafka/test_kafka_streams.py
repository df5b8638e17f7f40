"""score_stream against a real Apache Kafka broker (KRaft): Spark's own connector and sparkdl's source."""
import contextlib
import json
import time

import pytest

import sparkdl
from tests import models
from tests.integration.sparkproc import spark_submit
from tests.services.jars import connector_jars
from tests.services.kafka import SASL_PASSWORD, SASL_USER
from tests.streaming.broker import create_topic, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCHEMA = "id long, features array<float>"


def _messages(ids):
    return [(str(i).encode(), {"id": i, "features": [float(i % 5)] * 8}) for i in ids]


@pytest.fixture(scope="module")
def keras_path(tmp_path_factory):
    return models.save_both(models.mlp(8, 3, seed=12), tmp_path_factory.mktemp("kafka") / "mlp")[1]


def test_connector_over_sasl_available_now_stops_and_scores_every_message_once(kafka, keras_path, tmp_path):
    """Spark's connector, authenticating with SASL/PLAIN (a kafka.sasl.jaas.config sparkdl writes)."""
    topic = f"connector-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    produce(kafka, topic, _messages(range(150)))
    out = tmp_path / "out"
    done = spark_submit(["--master", "local[2]", "--jars", connector_jars(), "tests/kafka/connector_app.py",
                         kafka.sasl, topic, keras_path, out, tmp_path / "ckpt", SASL_USER, SASL_PASSWORD],
                        timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["source"].startswith("KafkaV2"), result  # Spark's connector, not sparkdl's source
    assert result["stopped"], f"available_now never stopped: {result}"
    import pyarrow.parquet as pq

    ids = pq.read_table(str(out), columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == list(range(150))


def test_partition_added_mid_stream_is_read_with_one_set_of_accumulators(spark, kafka, keras_path, tmp_path):
    from confluent_kafka.admin import AdminClient, NewPartitions
    from pyspark import accumulators

    topic = f"grow-{time.time_ns()}"
    create_topic(kafka, topic, partitions=1)
    produce(kafka, topic, _messages(range(20)), partitions=1)
    query = sparkdl.score_stream(spark, keras_path, source=sparkdl.KafkaSource(kafka, topic, schema=SCHEMA),
                                 sink=sparkdl.ParquetSink(str(tmp_path / "out")), trigger="200 milliseconds",
                                 checkpoint_location=str(tmp_path / "ckpt"))
    try:
        _wait_for_rows(spark, tmp_path / "out", 20)
        before = len(accumulators._accumulatorRegistry)  # the query's own set exists by now
        admin = AdminClient({"bootstrap.servers": kafka})
        admin.create_partitions([NewPartitions(topic, 2)])[topic].result(timeout=30)
        produce(kafka, topic, _messages(range(20, 60)), partitions=2)
        _wait_for_rows(spark, tmp_path / "out", 60)
        assert query.exception() is None
        ids = sorted(r.id for r in spark.read.parquet(str(tmp_path / "out")).select("id").collect())
        assert ids == list(range(60))
        assert spark.read.parquet(str(tmp_path / "out")).select("partition").distinct().count() == 2
        assert len(list((tmp_path / "out").glob("batch_id=*"))) >= 2
        assert len(accumulators._accumulatorRegistry) == before  # one set per query, none per micro-batch
    finally:
        query.stop()


def _wait_for_rows(spark, out, count, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(Exception):  # a batch being written
            if list(out.glob("batch_id=*")) and spark.read.parquet(str(out)).count() >= count:
                return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} rows reached {out} within {timeout}s")


def test_sparkdl_source_and_sink_over_sasl(spark, kafka, keras_path, tmp_path):
    """sparkdl's own source and KafkaSink authenticate with SASL/PLAIN; a wrong password fails at start."""
    from confluent_kafka import Consumer

    topic, scored_topic = f"sasl-{time.time_ns()}", f"sasl-scored-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    create_topic(kafka, scored_topic, partitions=1)
    produce(kafka, topic, _messages(range(30)))
    sasl = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username=SASL_USER)
    with pytest.raises(sparkdl.SourceUnavailableError) as refused:
        sparkdl.score_stream(spark, keras_path, source=sparkdl.KafkaSource(kafka.sasl, topic, schema=SCHEMA,
                                                                           sasl_password="wrong", **sasl),
                             sink=sparkdl.ParquetSink(str(tmp_path / "never")), checkpoint_location=str(tmp_path / "x"))
    assert "wrong" not in str(refused.value) and kafka.sasl in str(refused.value)
    source = sparkdl.KafkaSource(kafka.sasl, topic, schema=SCHEMA, sasl_password=SASL_PASSWORD, **sasl)
    assert "alice-secret" not in repr(source)
    query = sparkdl.score_stream(spark, keras_path, source=source, available_now=True,
                                 sink=sparkdl.KafkaSink(kafka.sasl, scored_topic, sasl_password=SASL_PASSWORD, **sasl),
                                 checkpoint_location=str(tmp_path / "ckpt"))
    assert query.awaitTermination(120) and query.exception() is None
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": "check", "auto.offset.reset": "earliest"})
    consumer.subscribe([scored_topic])
    ids, deadline = [], time.time() + 30
    while len(ids) < 30 and time.time() < deadline:
        ids += [json.loads(m.value())["id"] for m in consumer.consume(30, timeout=1.0) if not m.error()]
    consumer.close()
    assert sorted(ids) == list(range(30))
