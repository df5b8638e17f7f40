"""score_stream against a real Apache Kafka broker (KRaft) and real Spark, through sparkdl's Kafka source."""
import json
import time

import numpy as np
import pytest

import sparkdl
from tests import models
from tests.streaming.broker import consume_all, create_topic, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCHEMA = "id long, features array<float>"


@pytest.fixture(scope="module")
def mlp_model(tmp_path_factory):
    return models.save_both(models.mlp(8, 3, seed=12), tmp_path_factory.mktemp("stream") / "mlp")


def _messages(ids, seed=0):
    x = np.random.default_rng(seed).normal(size=(max(ids) + 1, 8)).astype(np.float32)
    return [(str(i).encode(), {"id": i, "features": x[i].tolist()}) for i in ids], x


def _topic(kafka, name):
    topic = f"{name}-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    return topic


def _run_available_now(spark, model_path, kafka, topic, tmp_path, **kwargs):
    query = sparkdl.score_stream(spark, model_path, source=sparkdl.KafkaSource(kafka, topic, schema=SCHEMA),
                                 sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                                 checkpoint_location=str(tmp_path / "ckpt"), available_now=True, **kwargs)
    assert query.awaitTermination(180), "the query did not drain the topic in time"
    assert query.exception() is None
    return query


def test_every_message_scored_once_with_predict_values(spark, kafka, mlp_model, tmp_path):
    model, keras_path, _ = mlp_model
    topic = _topic(kafka, "exact")
    messages, x = _messages(range(120))
    produce(kafka, topic, messages)
    _run_available_now(spark, keras_path, kafka, topic, tmp_path)
    rows = spark.read.parquet(str(tmp_path / "out")).orderBy("id").collect()
    assert [r.id for r in rows] == list(range(120))
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert {r.key for r in rows} == {m[0] for m in messages} and rows[0].topic == topic


def test_restart_after_stop_neither_loses_nor_duplicates(spark, kafka, mlp_model, tmp_path):
    topic = _topic(kafka, "restart")
    produce(kafka, topic, _messages(range(60))[0])
    _run_available_now(spark, mlp_model[1], kafka, topic, tmp_path)
    produce(kafka, topic, _messages(range(60, 100))[0])
    _run_available_now(spark, mlp_model[1], kafka, topic, tmp_path)
    ids = [r.id for r in spark.read.parquet(str(tmp_path / "out")).select("id").collect()]
    assert sorted(ids) == list(range(100))


def test_poison_messages_go_to_the_dead_letter_output(spark, kafka, mlp_model, tmp_path):
    topic = _topic(kafka, "poison")
    good, _ = _messages(range(30))
    poison = [(b"p1", b"{not json"), (b"p2", {"id": 1000, "features": [1.0, 2.0]}),
              (b"p3", {"id": 1001}), (b"p4", {"id": 1002, "features": [None] * 8})]
    produce(kafka, topic, good[:15] + poison + good[15:])
    _run_available_now(spark, mlp_model[1], kafka, topic, tmp_path,
                       dead_letter=sparkdl.ParquetSink(str(tmp_path / "dead")))
    assert spark.read.parquet(str(tmp_path / "out")).count() == 30
    dead = {r.key: r.error for r in spark.read.parquet(str(tmp_path / "dead")).collect()}
    assert set(dead) == {b"p1", b"p2", b"p3", b"p4"}
    assert dead[b"p1"].startswith("not a JSON object") and "{not json" in dead[b"p1"]
    assert dead[b"p2"] == "field 'features' has 2 values; the model needs 8"
    assert dead[b"p3"] == "field 'features' is missing or null"
    assert dead[b"p4"] == "field 'features' holds null values"


def test_kafka_sink_delivers_every_key(spark, kafka, mlp_model, tmp_path):
    source, target = _topic(kafka, "src"), _topic(kafka, "dst")
    produce(kafka, source, _messages(range(40))[0])
    query = sparkdl.score_stream(spark, mlp_model[1], source=sparkdl.KafkaSource(kafka, source, schema=SCHEMA),
                                 sink=sparkdl.KafkaSink(kafka, target), checkpoint_location=str(tmp_path / "c"),
                                 available_now=True)
    assert query.awaitTermination(180) and query.exception() is None
    records = consume_all(kafka, target, expected=40)
    assert {key for key, _ in records} == {str(i).encode() for i in range(40)}
    first = json.loads(records[0][1])
    assert set(first) >= {"id", "prediction", "topic", "partition", "offset"} and len(first["prediction"]) == 3


def test_max_records_per_trigger_bounds_batches(spark, kafka, mlp_model, tmp_path):
    topic = _topic(kafka, "bounded")
    produce(kafka, topic, _messages(range(90))[0])
    query = sparkdl.score_stream(spark, mlp_model[1], source=sparkdl.KafkaSource(kafka, topic, schema=SCHEMA),
                                 sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                                 checkpoint_location=str(tmp_path / "ckpt"), trigger="200 milliseconds",
                                 max_records_per_trigger=25)
    try:
        deadline = time.time() + 180
        while sum(p["numInputRows"] for p in query.recentProgress) < 90 and time.time() < deadline:
            time.sleep(0.5)
    finally:
        query.stop()
    sizes = [p["numInputRows"] for p in query.recentProgress if p["numInputRows"]]
    assert sum(sizes) == 90 and max(sizes) <= 25 and len(sizes) >= 4
    assert spark.read.parquet(str(tmp_path / "out")).count() == 90


def test_file_directory_source(spark, mlp_model, tmp_path):
    model, keras_path, _ = mlp_model
    x = np.random.default_rng(3).normal(size=(20, 8)).astype(np.float32)
    incoming = tmp_path / "incoming"
    spark.createDataFrame([(i, x[i].tolist()) for i in range(20)], SCHEMA).write.parquet(str(incoming))
    query = sparkdl.score_stream(spark, keras_path, source=sparkdl.FileSource(str(incoming)),
                                 sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                                 checkpoint_location=str(tmp_path / "ckpt"), available_now=True)
    assert query.awaitTermination(120) and query.exception() is None
    rows = spark.read.parquet(str(tmp_path / "out")).orderBy("id").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_broker_down_is_a_clear_error_within_bounded_time(spark, mlp_model, tmp_path):
    from tests.streaming.broker import free_port

    started = time.time()
    with pytest.raises(sparkdl.SourceUnavailableError, match=r"cannot reach Kafka at 127\.0\.0\.1:\d+ within 3s"):
        sparkdl.score_stream(spark, mlp_model[1],
                             source=sparkdl.KafkaSource(f"127.0.0.1:{free_port()}", "t", timeout_seconds=3),
                             sink=sparkdl.ParquetSink(str(tmp_path / "out")), checkpoint_location=str(tmp_path / "c"))
    assert time.time() - started < 20
    assert not (tmp_path / "out").exists()
