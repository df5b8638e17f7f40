"""score_stream fails early and clearly, and a checkpoint belongs to one source and model (file sources:
no broker needed)."""
import time
import uuid

import numpy as np
import pytest

import sparkdl
from sparkdl import ConfigError, SchemaError, SourceUnavailableError, StorageError
from tests import models
from tests.streaming.broker import create_topic, free_port, produce

pytestmark = pytest.mark.slow
SCHEMA = "id long, features array<float>"


@pytest.fixture(scope="module")
def stream_setup(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("stream_safety")
    mlp = models.save_both(models.mlp(8, 3, seed=12), root / "mlp")
    other = models.save_both(models.mlp(8, 3, seed=13), root / "other")
    x = np.random.default_rng(3).normal(size=(10, 8)).astype(np.float32)
    for name in ("a", "b"):
        spark.createDataFrame([(i, x[i].tolist()) for i in range(10)], SCHEMA).write.parquet(str(root / name))
    (root / "a_file").write_text("not a directory")
    return root, mlp, other, x


def _start(spark, model, root, **overrides):
    kwargs = dict(source=sparkdl.FileSource(str(root / "a")), sink=sparkdl.ParquetSink(str(root / "out")),
                  checkpoint_location=str(root / "ckpt"), available_now=True)
    kwargs.update(overrides)
    return sparkdl.score_stream(spark, model, **kwargs)


@pytest.mark.parametrize("where", ["checkpoint_location", "sink", "dead_letter"])
def test_unwritable_checkpoint_or_sink_fails_at_start(spark, stream_setup, where):
    root, mlp, _, _ = stream_setup
    bad = str(root / "a_file" / where)
    what = {"checkpoint_location": "checkpoint_location", "sink": "ParquetSink path",
            "dead_letter": "ParquetSink path"}[where]
    value = bad if where == "checkpoint_location" else sparkdl.ParquetSink(bad)
    with pytest.raises(StorageError, match=rf"{what} '{bad}' is not writable .*choose another path"):
        _start(spark, mlp[1], root, **{where: value, "checkpoint_location": str(root / "never")}
               if where != "checkpoint_location" else {where: value})
    assert not (root / "never").exists() and not (root / "out").exists()


def test_kafka_sink_with_no_broker_fails_at_start(spark, stream_setup):
    root, mlp, _, _ = stream_setup
    started = time.time()
    with pytest.raises(SourceUnavailableError, match=r"KafkaSink cannot reach Kafka at '127\.0\.0\.1:\d+' within 2s"):
        _start(spark, mlp[1], root, sink=sparkdl.KafkaSink(f"127.0.0.1:{free_port()}", "t", timeout_seconds=2),
               checkpoint_location=str(root / "never"))
    assert time.time() - started < 15 and not (root / "never").exists()


def test_bad_trigger_and_schema_are_config_errors(spark, stream_setup):
    root, mlp, _, _ = stream_setup
    with pytest.raises(ConfigError, match=r"trigger 'every so often' is not an interval .*'2 seconds'"):
        _start(spark, mlp[1], root, trigger="every so often", available_now=False)
    with pytest.raises(ConfigError, match=r"schema 'id lung,' is not a Spark DDL schema .*'id long, features"):
        _start(spark, mlp[1], root, source=sparkdl.FileSource(str(root / "a"), format="json", schema="id lung,"))
    assert not (root / "ckpt").exists()


@pytest.mark.parametrize("flag, value, expected", [
    ("--trigger", "every so often", "ConfigError: trigger 'every so often' is not an interval"),
    ("--schema", "id lung,", "ConfigError: schema 'id lung,' is not a Spark DDL schema")])
def test_stream_job_bad_trigger_or_schema_exits_2_with_one_line(spark, stream_setup, capsys, tmp_path, flag, value,
                                                                expected):
    from sparkdl import _cli
    from sparkdl.jobs import stream_score

    root, mlp, _, _ = stream_setup
    argv = ["--model", mlp[1], "--input-path", root / "a", "--input-format", "json", "--output-path",
            tmp_path / "out", "--checkpoint", tmp_path / "ckpt", "--schema", SCHEMA, flag, value,
            "--available-now"]  # replaces the trigger interval, which is still checked
    code = _cli.run(stream_score.main, [str(arg) for arg in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == _cli.EXIT_BAD_INPUT and [line for line in err if "Error" in line] == [err[-1]], err
    assert err[-1].startswith(expected) and "Traceback" not in "\n".join(err), err
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "out").exists()


def test_a_checkpoint_belongs_to_one_source_and_one_model(spark, stream_setup):
    root, mlp, other, _ = stream_setup
    query = _start(spark, mlp[1], root)
    assert query.awaitTermination(120) and query.exception() is None
    with pytest.raises(ConfigError, match=rf"checkpoint_location '{root}/ckpt' belongs to a query reading parquet "
                                          rf"files in file://{root}/a, not parquet files in file://{root}/b; .*"
                                          r"Use a new checkpoint_location"):
        _start(spark, mlp[1], root, source=sparkdl.FileSource(str(root / "b")))
    with pytest.raises(ConfigError, match=r"was started with model '.*mlp.keras' \(fingerprint [0-9a-f]{12}\), "
                                          r"not '.*other.keras'.*allow_model_change=True \(--allow-model-change\)"):
        _start(spark, other[1], root)
    query = _start(spark, other[1], root, allow_model_change=True)
    assert query.awaitTermination(120) and query.exception() is None


def test_model_input_binds_only_to_a_named_field(spark, stream_setup):
    """A file column named like the input, or given through inputs=, feeds the model; no other column does."""
    root, mlp, _, x = stream_setup
    odd = root / "odd"
    spark.createDataFrame([(i, x[i].tolist(), x[i].tolist()) for i in range(10)],
                          "`my id` long, `feat.x` array<float>, other array<float>").write.parquet(str(odd))
    with pytest.raises(SchemaError, match=r"model input 'features' float32\[8\] needs field 'features', which the "
                                          r"stream's messages do not have \(decoded fields: \['my id', 'feat.x', "
                                          r"'other'\]\); add it to the schema"):
        _start(spark, mlp[1], root, source=sparkdl.FileSource(str(odd)))
    query = _start(spark, mlp[1], root, source=sparkdl.FileSource(str(odd)), inputs={"features": "feat.x"},
                   sink=sparkdl.ParquetSink(str(root / "odd_out")), checkpoint_location=str(root / "odd_ckpt"))
    assert query.awaitTermination(120) and query.exception() is None
    rows = spark.read.parquet(str(root / "odd_out")).orderBy("`my id`").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), mlp[0](x).numpy(), rtol=1e-5, atol=1e-6)


def _kafka_topic(kafka, name, messages):
    topic = f"{name}-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    produce(kafka, topic, messages)
    return topic


@pytest.mark.kafka
def test_schema_without_the_input_field_never_scores_the_message_key(spark, kafka, stream_setup):
    """32-byte keys once fed an 8-float input as raw bytes; now the missing field is a SchemaError at start."""
    root, mlp, _, x = stream_setup
    topic = _kafka_topic(kafka, "keys", [(uuid.uuid4().hex.encode(), {"id": i, "features": x[i].tolist()})
                                          for i in range(10)])
    with pytest.raises(SchemaError, match=r"needs field 'features', which the stream's messages do not have "
                                          r"\(decoded fields: \['id'\]\); add it to the schema"):
        _start(spark, mlp[1], root, source=sparkdl.KafkaSource(kafka, topic, schema="id long"),
               checkpoint_location=str(root / "never"))
    assert not (root / "never").exists()


@pytest.mark.kafka
def test_stream_job_refuses_the_checkpoint_of_another_topic(spark, kafka, stream_setup, tmp_path, capsys):
    root, mlp, _, x = stream_setup
    messages = [(str(i).encode(), {"id": i, "features": x[i].tolist()}) for i in range(10)]
    first, second = _kafka_topic(kafka, "first", messages), _kafka_topic(kafka, "second", messages)
    query = _start(spark, mlp[1], root, source=sparkdl.KafkaSource(kafka, first, schema=SCHEMA),
                   sink=sparkdl.ParquetSink(str(tmp_path / "out")), checkpoint_location=str(tmp_path / "ckpt"))
    assert query.awaitTermination(120) and query.exception() is None
    from sparkdl import _cli
    from sparkdl.jobs import stream_score

    code = _cli.run(stream_score.main, [str(arg) for arg in [
        "--model", mlp[1], "--kafka-bootstrap", kafka, "--input-topic", second, "--output-path", tmp_path / "out2",
        "--checkpoint", tmp_path / "ckpt", "--schema", SCHEMA, "--available-now"]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == _cli.EXIT_BAD_INPUT and "Traceback" not in "\n".join(err), err
    assert err[-1] == (f"ConfigError: checkpoint_location '{tmp_path}/ckpt' belongs to a query reading Kafka topic "
                       f"{first!r} at {kafka}, not Kafka topic {second!r} at {kafka}; its offsets would skip or "
                       f"repeat messages. Use a new checkpoint_location for this source"), err
    assert not (tmp_path / "out2").exists()
