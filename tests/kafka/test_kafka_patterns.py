"""KafkaSource(topic_pattern=...) against a real Apache Kafka broker, read through sparkdl's source.

Spark's own connector gets the same pattern as `subscribePattern` (sources.read_stream); no test
here runs it through a spark-submit with the connector jars (tests/kafka/test_kafka_streams.py's
connector test reads one topic).
"""
import json
import time

import pytest

import sparkdl
from tests import models
from tests.kafka.test_kafka_streams import SCHEMA, _messages, _wait_for_rows
from tests.streaming.broker import create_topic, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    return models.save_both(models.mlp(8, 3, seed=12), tmp_path_factory.mktemp("patterns") / "mlp")[1]


def test_pattern_scores_every_matching_topic_once_and_reads_topics_created_later(spark, kafka, keras_model,
                                                                                   tmp_path):
    prefix = f"pattern{time.time_ns()}"
    first, second, third, other = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c", f"x{prefix}-a"
    for topic, partitions in ((first, 2), (second, 1), (other, 1)):
        create_topic(kafka, topic, partitions=partitions)
    produce(kafka, first, _messages(range(20)))
    produce(kafka, second, _messages(range(20, 30)), partitions=1)
    produce(kafka, other, _messages(range(1000, 1010)), partitions=1)  # contains a match, is none (fullmatch)
    out, checkpoint = tmp_path / "out", tmp_path / "ckpt"
    source = sparkdl.KafkaSource(kafka, topic_pattern=f"{prefix}-.*", schema=SCHEMA)
    query = sparkdl.score_stream(spark, keras_model, source=source, sink=sparkdl.ParquetSink(str(out)),
                                 trigger="200 milliseconds", checkpoint_location=str(checkpoint))
    try:
        _wait_for_rows(spark, out, 30)  # the first batch starts the Python workers (TensorFlow)
        create_topic(kafka, third, partitions=1)
        produce(kafka, third, _messages(range(30, 45)), partitions=1)
        _wait_for_rows(spark, out, 45, timeout=60)
        assert query.exception() is None
        rows = spark.read.parquet(str(out)).select("id", "topic").collect()
        assert sorted(r.id for r in rows) == list(range(45))  # every message of the matching topics, once
        assert {r.topic for r in rows} == {first, second, third}
        last = max((checkpoint / "offsets").glob("[0-9]*"), key=lambda path: int(path.name))
        offsets = json.loads(last.read_text().splitlines()[-1])
        assert offsets == {first: {"0": 10, "1": 10}, second: {"0": 10}, third: {"0": 15}}
    finally:
        query.stop()
