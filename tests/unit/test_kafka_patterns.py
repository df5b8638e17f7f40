"""Kafka topic patterns without a broker or a SparkSession: validation, offsets of several topics,
checkpoints of the one-topic source, checkpoint identity and the job's flags."""
import json
import re

import pytest

import sparkdl
from sparkdl import _cli
from sparkdl.errors import ConfigError
from sparkdl.jobs import stream_score
from sparkdl.streaming.kafka_source import offset_ranges, take
from sparkdl.streaming.kafka_topics import Topics, offsets_json, parse_offsets
from sparkdl.streaming.state import claim_checkpoint


def _reader(options):
    """sparkdl's Kafka stream reader (the Python Data Source API: pyspark >= 4.0; tests/compat runs 3.5)."""
    pytest.importorskip("pyspark.sql.datasource", reason="sparkdl's Kafka source needs pyspark >= 4.0")
    from sparkdl.streaming.kafka_reader import KafkaStreamReader

    return KafkaStreamReader(options)


@pytest.mark.parametrize("kwargs, says", [({}, "exactly one of topic"),
                                          ({"topic": "t", "topic_pattern": "t.*"}, "topic_pattern='t.*'"),
                                          ({"topic_pattern": "orders-("}, "'orders-(' is not a regular expression"),
                                          ({"topic": ""}, "topic is empty")])
def test_a_source_needs_one_topic_or_one_valid_pattern(kwargs, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        sparkdl.KafkaSource("broker:9092", **kwargs)


def test_a_pattern_matches_whole_names_and_never_internal_topics():
    topics = sparkdl.KafkaSource("broker:9092", topic_pattern="orders-.*").topics
    assert [t for t in ("orders-eu", "orders-", "old-orders-eu", "orders", "__orders-x") if topics.matches(t)] == \
        ["orders-eu", "orders-"]
    assert not Topics(pattern=".*").matches("__consumer_offsets")
    assert Topics(name="__internal").matches("__internal")  # a topic named outright is read
    assert str(topics) == "topics matching 'orders-.*'"


def test_security_settings_are_keyword_only_shared_and_checked_once():
    source = sparkdl.KafkaSource("b:9092", "events", "tensor", security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                                 sasl_username="u", sasl_password="secret")
    sink = sparkdl.KafkaSink("b:9092", "scored", ("id",), security_protocol="SSL")
    assert (source.topic, source.value_format, sink.fields) == ("events", "tensor", ("id",))
    assert source.client.librdkafka()["sasl.password"] == "secret" and "secret" not in repr(source)
    assert sink.client.connector_options()["kafka.security.protocol"] == "SSL"
    with pytest.raises(ConfigError, match="needs sasl_mechanism"):
        sparkdl.KafkaSink("b:9092", "scored", security_protocol="SASL_PLAINTEXT")
    with pytest.raises(TypeError):
        sparkdl.KafkaSink("b:9092", "scored", None, 10.0, "SSL")  # security settings are keyword-only


def test_offsets_of_several_topics_round_trip_in_the_connectors_shape():
    offsets = {("a", 0): 5, ("a", 1): 7, ("b", 0): 0}
    stored = offsets_json(offsets)
    assert stored == {"a": {"0": 5, "1": 7}, "b": {"0": 0}}
    assert parse_offsets(json.dumps(stored)) == offsets == parse_offsets(stored, "ignored")
    assert parse_offsets(None) == {} and parse_offsets("{}") == {}


def test_a_one_topic_checkpoint_resumes_as_that_topic_without_loss_or_repeat():
    old_start, old_end = {"0": 5, "1": 7}, {"0": 9, "1": 7}  # a batch the old source planned
    assert parse_offsets(old_end, "events") == {("events", 0): 9, ("events", 1): 7}
    reader = _reader({"bootstrap": "b:9092", "topic": "events", "maxTasks": "1"})
    rerun = [r for part in reader.partitions(old_start, old_end) for r in part.value]
    assert rerun == [("events", 0, 5, 9)]  # the uncommitted batch re-runs exactly as planned
    new_end = {"events": {"0": 12, "1": 8, "2": 3}}  # the next batch, a partition added meanwhile
    ranges = [r for part in reader.partitions(old_end, new_end) for r in part.value]
    assert ranges == [("events", 0, 9, 12), ("events", 1, 7, 8), ("events", 2, 0, 3)]
    with pytest.raises(ConfigError, match="name no topic"):
        _reader({"bootstrap": "b:9092", "topicPattern": "ev.*"}).partitions(old_start, old_end)


def test_planning_over_several_topics_shares_the_budget_and_reads_new_topics_from_the_start():
    start = {("a", 0): 10, ("b", 0): 0}
    latest = {("a", 0): 30, ("b", 0): 4, ("c", 0): 50}  # topic c appeared: not in start
    end = take({**start, ("c", 0): 0}, latest, 24)
    assert end == {("a", 0): 20, ("b", 0): 4, ("c", 0): 10}
    assert offset_ranges(start, end) == [("a", 0, 10, 20), ("b", 0, 0, 4), ("c", 0, 0, 10)]
    reader = _reader({"bootstrap": "b:9092", "topicPattern": "[abc]", "maxTasks": "2"})
    groups = reader.partitions(offsets_json(start), offsets_json(end))
    assert len(groups) == 2
    assert sorted(r for g in groups for r in g.value) == offset_ranges(start, end)


def test_checkpoint_records_the_pattern_and_refuses_another(tmp_path):
    checkpoint = str(tmp_path / "ckpt")
    pattern = sparkdl.KafkaSource("b:9092", topic_pattern="orders-.*")
    claim_checkpoint(None, checkpoint, pattern, "m.keras", "f" * 40)
    claim_checkpoint(None, checkpoint, pattern, "m.keras", "f" * 40)  # the same query restarts
    recorded = json.loads((tmp_path / "ckpt" / "sparkdl-query.json").read_text())["source"]
    assert recorded == {"kafka": "b:9092", "topic_pattern": "orders-.*"}
    for other in (sparkdl.KafkaSource("b:9092", topic_pattern="orders-eu-.*"), sparkdl.KafkaSource("b:9092", "orders")):
        with pytest.raises(ConfigError, match="topics matching 'orders-.\\*'"):
            claim_checkpoint(None, checkpoint, other, "m.keras", "f" * 40)


def test_job_takes_a_topic_or_a_pattern_and_checks_the_pattern_before_spark(capsys):
    base = ["--model", "m.keras", "--output-path", "out", "--checkpoint", "ckpt"]
    args = stream_score.parse_args([*base, "--input-topic-pattern", "orders-.*"])
    assert (args.input_topic_pattern, args.input_topic) == ("orders-.*", None)
    with pytest.raises(SystemExit):
        stream_score.parse_args([*base, "--input-topic", "t", "--input-topic-pattern", "t.*"])
    code = _cli.run(stream_score.main, [*base, "--kafka-bootstrap", "b:9092", "--input-topic-pattern", "("])
    assert code == _cli.EXIT_BAD_INPUT and "topic_pattern '(' is not a regular expression" in capsys.readouterr().err
    code = _cli.run(stream_score.main, [*base, "--input-topic-pattern", "orders-.*"])
    assert code == _cli.EXIT_BAD_INPUT and "--input-topic-pattern" in capsys.readouterr().err
