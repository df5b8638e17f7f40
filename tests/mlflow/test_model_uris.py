"""MLflow model URIs through predict and the batch job, against a real tracking server."""
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sparkdl
from sparkdl import examples
from tests import models

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]


@pytest.fixture(scope="module")
def registered(mlflow_server):
    """A Keras model logged in a run, registered as version 1 of 'sparkdl-mlp', alias 'champion'."""
    import mlflow

    model = models.mlp(8, 3, seed=11)
    mlflow.set_experiment("sparkdl-uris")
    with mlflow.start_run() as run:
        info = mlflow.tensorflow.log_model(model, name="model", registered_model_name="sparkdl-mlp")
    mlflow.MlflowClient().set_registered_model_alias("sparkdl-mlp", "champion", info.registered_model_version)
    return model, run.info.run_id, info


def _scored(spark, model_uri, x):
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(len(x))], "id long, features array<float>")
    rows = sparkdl.predict(df, model_uri, keep=["id"]).orderBy("id").collect()
    return np.array([r.prediction for r in rows])


def test_alias_and_runs_uris_score_like_keras_and_every_form_resolves(spark, registered, rng):
    from sparkdl.runtime import mlflow_models

    model, run_id, info = registered
    x = rng.normal(size=(40, 8)).astype(np.float32)
    expected = model(x).numpy()
    version = info.registered_model_version
    for uri in ["models:/sparkdl-mlp@champion", f"runs:/{run_id}/model"]:
        np.testing.assert_allclose(_scored(spark, uri, x), expected, rtol=1e-5, atol=1e-6, err_msg=uri)
    assert mlflow_models.version_of("models:/sparkdl-mlp@champion") == f"sparkdl-mlp/{version}"
    for uri in [f"models:/sparkdl-mlp/{version}", "models:/sparkdl-mlp/latest", info.model_uri]:  # same file
        local = mlflow_models.localize(uri)
        assert local.endswith(".keras")
        assert open(local, "rb").read() == open(mlflow_models.localize("models:/sparkdl-mlp@champion"), "rb").read()


def test_unknown_alias_is_model_not_found(spark, registered):
    df = spark.createDataFrame([([0.0] * 8,)], "features array<float>")
    with pytest.raises(sparkdl.ModelNotFoundError, match="models:/sparkdl-mlp@nope"):
        sparkdl.predict(df, "models:/sparkdl-mlp@nope")


def test_batch_job_scores_by_alias_and_reports_the_version(spark, registered, tmp_path):
    from sparkdl.jobs import batch_score

    model, _, info = registered
    table = examples.features_table(60, (8,), seed=4, column="x")
    data = examples.write_parquet(table, tmp_path / "input", files=2)
    summary = batch_score.main(["--model", "models:/sparkdl-mlp@champion", "--input", str(data), "--output",
                                str(tmp_path / "out"), "--inputs", "features=x", "--keep", "id"])
    assert summary["model_version"] == f"sparkdl-mlp/{info.registered_model_version}"
    scored = pq.read_table(tmp_path / "out").sort_by("id")
    expected = model(np.stack(table.sort_by("id").column("x").to_numpy(zero_copy_only=False))).numpy()
    np.testing.assert_allclose(np.stack(scored.column("prediction").to_numpy(zero_copy_only=False)), expected,
                               rtol=1e-5, atol=1e-6)


def test_without_mlflow_an_mlflow_uri_is_a_config_error_naming_the_extra():
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "from sparkdl.runtime import mlflow_models\n"
            "from sparkdl.errors import ConfigError\n"
            "try:\n    mlflow_models.localize('models:/m/1')\nexcept ConfigError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert "pip install 'sparkdl-tf[mlflow]'" in done.stdout, done.stderr[-2000:]


# The registered model through the other entry points: TFTransformer, register_udf, the stream and train jobs.

def _points(spark, x):
    return spark.createDataFrame([(i, x[i].tolist()) for i in range(len(x))], "id long, features array<float>")


def test_transformer_by_alias_transforms_saves_and_loads_a_copy_of_that_version(spark, registered, rng, tmp_path):
    model, _, _ = registered
    x = rng.normal(size=(30, 8)).astype(np.float32)
    df, expected = _points(spark, x), model(x).numpy()
    stage = sparkdl.TFTransformer(model="models:/sparkdl-mlp@champion")
    scored = np.array([r.prediction for r in stage.transform(df).orderBy("id").collect()])
    np.testing.assert_allclose(scored, expected, rtol=1e-5, atol=1e-6)
    stage.write().save(str(tmp_path / "stage"))
    loaded = sparkdl.TFTransformer.load(str(tmp_path / "stage"))
    assert loaded.getModel().removeprefix("file:").startswith(str(tmp_path / "stage" / "model"))
    again = np.array([r.prediction for r in loaded.transform(df).orderBy("id").collect()])
    np.testing.assert_allclose(again, expected, rtol=1e-5, atol=1e-6)


def test_sql_function_by_runs_uri_scores_like_keras(spark, registered, rng):
    model, run_id, _ = registered
    x = rng.normal(size=(12, 8)).astype(np.float32)
    _points(spark, x).createOrReplaceTempView("mlflow_points")
    sparkdl.register_udf(spark, "mlflow_mlp", f"runs:/{run_id}/model")
    rows = spark.sql("SELECT id, mlflow_mlp(features) AS p FROM mlflow_points ORDER BY id").collect()
    np.testing.assert_allclose(np.array([r.p for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)


def _jobs(sc) -> dict:
    """{job id: description or None} of every job the driver's status store holds."""
    jobs = sc._jsc.sc().statusStore().jobsList(None)
    found = [jobs.apply(i) for i in range(jobs.size())]
    return {j.jobId(): j.description().get() if j.description().isDefined() else None for j in found}


def test_stream_job_by_alias_reports_the_version_and_describes_its_batches(spark, registered, tmp_path):
    from sparkdl.jobs import stream_score

    model, _, info = registered
    table = examples.features_table(24, (8,), seed=6, column="x")
    examples.write_parquet(table, tmp_path / "in", files=2)
    sc = spark.sparkContext
    before = max(_jobs(sc), default=-1)
    summary = stream_score.main(["--model", "models:/sparkdl-mlp@champion", "--input-path", str(tmp_path / "in"),
                                 "--inputs", "features=x", "--output-path", str(tmp_path / "out"), "--checkpoint",
                                 str(tmp_path / "ckpt"), "--available-now"])
    assert summary["model_version"] == f"sparkdl-mlp/{info.registered_model_version}"
    scored = pq.read_table(tmp_path / "out").sort_by("id")
    expected = model(np.stack(table.column("x").to_numpy(zero_copy_only=False))).numpy()
    np.testing.assert_allclose(np.stack(scored.column("prediction").to_numpy(zero_copy_only=False)), expected,
                               rtol=1e-5, atol=1e-6)
    assert "sparkdl score_stream: batch 0" in [d for job, d in _jobs(sc).items() if job > before]


def test_train_job_from_an_alias_trains_like_keras_and_reports_the_version(spark, registered, tmp_path):
    import keras

    from sparkdl.jobs import train as train_job

    model, _, info = registered
    x = np.random.default_rng(8).normal(size=(64, 8)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)
    table = pa.table({"x": pa.array(x.tolist(), pa.list_(pa.float32())), "label": y})
    pq.write_table(table, tmp_path / "train.parquet")  # one file: Spark reads it in numpy order
    before = max(_jobs(spark.sparkContext), default=-1)
    summary = train_job.main(["--model", "models:/sparkdl-mlp@champion", "--input", str(tmp_path / "train.parquet"),
                              "--features", "x", "--label", "label", "--loss", "sparse_categorical_crossentropy",
                              "--optimizer", "sgd", "--learning-rate", "0.1", "--batch-size", "32",
                              "--output", str(tmp_path / "trained.keras")])
    assert summary["model_version"] == f"sparkdl-mlp/{info.registered_model_version}"
    described = [d for job, d in _jobs(spark.sparkContext).items() if job > before]
    assert described and all(d and d.startswith("sparkdl train: ") for d in described), described
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    reference.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    trained = keras.models.load_model(tmp_path / "trained.keras", compile=False)
    for ours, theirs in zip(trained.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def _land(table, directory, name):
    """Write a Parquet file into a watched directory whole (written aside, then renamed in)."""
    directory.mkdir(exist_ok=True)
    pq.write_table(table, directory.parent / f".{name}")
    os.rename(directory.parent / f".{name}", directory / name)


def test_a_running_stream_keeps_the_version_its_alias_named_when_it_started(spark, mlflow_server, tmp_path):
    import time

    import mlflow

    first, second = models.mlp(8, 3, seed=21), models.mlp(8, 3, seed=22)
    mlflow.set_experiment("sparkdl-uris")
    with mlflow.start_run():
        v1 = mlflow.tensorflow.log_model(first, name="m1", registered_model_name="sparkdl-stream-mlp")
        v2 = mlflow.tensorflow.log_model(second, name="m2", registered_model_name="sparkdl-stream-mlp")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("sparkdl-stream-mlp", "live", v1.registered_model_version)
    table = examples.features_table(20, (8,), seed=9)
    _land(table.slice(0, 10), tmp_path / "in", "a.parquet")
    query = sparkdl.score_stream(spark, "models:/sparkdl-stream-mlp@live", source=sparkdl.FileSource(
        str(tmp_path / "in")), sink=sparkdl.ParquetSink(str(tmp_path / "out")),
        checkpoint_location=str(tmp_path / "ckpt"), trigger="200 milliseconds")
    try:
        deadline = time.time() + 120
        rows = lambda: sum(p["numInputRows"] for p in query.recentProgress)  # noqa: E731
        while rows() < 10 and time.time() < deadline:
            time.sleep(0.2)
        client.set_registered_model_alias("sparkdl-stream-mlp", "live", v2.registered_model_version)
        _land(table.slice(10), tmp_path / "in", "b.parquet")
        while rows() < 20 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        query.stop()
    assert query.exception() is None and rows() == 20
    scored = pq.read_table(tmp_path / "out").sort_by("id")
    x = np.stack(table.column("features").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(np.stack(scored.column("prediction").to_numpy(zero_copy_only=False)),
                               first(x).numpy(), rtol=1e-5, atol=1e-6)  # both batches: version 1
