"""Needs a real GPU: skipped where TensorFlow sees none (CI), run on a lent GPU machine."""
import numpy as np
import pytest

import sparkdl
from tests import models

pytestmark = pytest.mark.gpu


def _gpus():
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


@pytest.fixture(autouse=True)
def _need_gpu():
    if not _gpus():
        pytest.skip("no GPU visible to TensorFlow")


def test_model_variables_live_on_the_assigned_gpu(tmp_path):
    from sparkdl.tf.model_io import load_model
    from sparkdl.tf.runner import predict_in_batches

    model, keras_path, saved_dir = models.save_both(models.mlp(8, 3), tmp_path / "m")
    x = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    for path, kind in ((keras_path, "keras"), (saved_dir, "savedmodel")):
        loaded = load_model(path, kind, "/GPU:0")
        owner = loaded._function._sparkdl_owner
        variables = owner.variables if hasattr(owner, "variables") else owner.trainable_variables
        assert variables and all("GPU:0" in v.device for v in variables)
        out = predict_in_batches(loaded, {"features": x}, 32, "/GPU:0")
        np.testing.assert_allclose(next(iter(out.values())), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_predict_on_a_gpu_machine_matches_keras(spark, mlp):
    model, keras_path, _ = mlp
    x = np.random.default_rng(1).normal(size=(200, 8)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(200)], "id long, features array<float>")
    rows = sparkdl.predict(df, keras_path).orderBy("id").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), model(x).numpy(), rtol=1e-4, atol=1e-5)
