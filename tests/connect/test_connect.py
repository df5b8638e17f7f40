"""Scoring on a Spark Connect session (Databricks serverless and standard access mode): predict,
TFTransformer and score_stream against Keras; training says it needs a classic session."""
import time

import numpy as np
import pytest

import sparkdl
from sparkdl import ConfigError
from sparkdl.model_archive import pack
from sparkdl.runtime import models as shipping

pytestmark = [pytest.mark.connect, pytest.mark.slow]
SCHEMA = "id long, features array<float>"


def _frame(connect, x):
    return connect.createDataFrame([(i, x[i].tolist()) for i in range(len(x))], SCHEMA)


def _predictions(rows, column="prediction"):
    return np.array([row[column] for row in rows], dtype=np.float32)


def _loads(log, model_path, at_least=1, wait=10.0) -> int:
    """Model loads on the server's executors, read from their log lines (Connect has no accumulators)."""
    line = f"sparkdl.runtime.models: loaded model {pack(model_path).fingerprint[:12]}"
    deadline = time.time() + wait
    while log.read_text().count(line) < at_least and time.time() < deadline:
        time.sleep(0.2)  # the server copies its Python workers' stderr into the log asynchronously
    return log.read_text().count(line)


def test_predict_equals_keras_and_loads_once_per_python_worker(connect, connect_log, mlp, rng):
    model, keras_path, saved_dir = mlp
    x = rng.normal(size=(200, 8)).astype(np.float32)
    df = _frame(connect, x).repartition(4)
    for uri in (keras_path, f"file://{saved_dir}"):
        rows = sparkdl.predict(df, uri, batch_size=64).orderBy("id").collect()
        np.testing.assert_allclose(_predictions(rows), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert sparkdl.model_loads(connect) is None
    loads = _loads(connect_log, keras_path)
    assert 1 <= loads <= 2  # local[2]: at most one load per Python worker
    sparkdl.predict(df, keras_path, keep=["id"]).collect()
    assert _loads(connect_log, keras_path, at_least=loads + 1, wait=2.0) == loads  # reused workers load nothing


def test_transformer_scores_on_connect(connect, mlp, rng):
    model, keras_path, _ = mlp
    x = rng.normal(size=(40, 8)).astype(np.float32)
    stage = sparkdl.TFTransformer(model=keras_path, outputs={"output_0": "p"}, batchSize=16)
    rows = stage.transform(_frame(connect, x)).orderBy("id").collect()
    np.testing.assert_allclose(_predictions(rows, "p"), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_score_stream_from_a_file_source_with_a_dead_letter(connect, mlp, rng, tmp_path):
    model, keras_path, _ = mlp
    x = rng.normal(size=(30, 8)).astype(np.float32)
    rows = [(i, x[i].tolist()) for i in range(30)] + [(99, [1.0] * 7)]  # id 99 has 7 of 8 features
    connect.createDataFrame(rows, SCHEMA).write.parquet(str(tmp_path / "incoming"))
    for attempt in range(2):
        try:
            query = sparkdl.score_stream(connect, keras_path, source=sparkdl.FileSource(str(tmp_path / "incoming")),
                                         sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                                         dead_letter=sparkdl.ParquetSink(str(tmp_path / "dead")),
                                         checkpoint_location=str(tmp_path / f"ckpt{attempt}"), available_now=True)
            break
        except Exception as error:  # Spark gives the server's foreachBatch Python process a fixed 10 s to
            if attempt or "Python worker to connect back" not in str(error):  # start: a busy machine can miss it
                raise
    assert query.awaitTermination(180) and query.exception() is None
    scored = connect.read.parquet(str(tmp_path / "out")).orderBy("id").collect()
    np.testing.assert_allclose(_predictions(scored), model(x).numpy(), rtol=1e-5, atol=1e-6)
    dead = connect.read.parquet(str(tmp_path / "dead")).collect()
    assert [row.id for row in dead] == [99] and "has 7 values; the model needs 8" in dead[0].error


def test_a_model_too_large_for_the_plan_is_read_by_the_executors_from_its_path(connect, mlp, rng, monkeypatch,
                                                                                 tmp_path):
    model, keras_path, _ = mlp
    copy = tmp_path / "copy.keras"  # a new URI: resolved again, not taken from the driver's cache
    copy.write_bytes(open(keras_path, "rb").read())
    monkeypatch.setattr(shipping, "CONNECT_INLINE_BYTES", 1000)
    x = rng.normal(size=(20, 8)).astype(np.float32)
    rows = sparkdl.predict(_frame(connect, x), str(copy)).orderBy("id").collect()
    np.testing.assert_allclose(_predictions(rows), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_training_on_connect_is_a_config_error(connect, mlp):
    _, keras_path, _ = mlp
    df = connect.createDataFrame([([0.0] * 8, 1)], "features array<float>, label int")
    with pytest.raises(ConfigError, match="needs a classic Spark session"):
        sparkdl.train(df, keras_path, features="features", label="label", loss="sparse_categorical_crossentropy")
