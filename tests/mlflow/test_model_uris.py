"""MLflow model URIs through predict and the batch job, against a real tracking server."""
import os
import subprocess
import sys

import numpy as np
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
