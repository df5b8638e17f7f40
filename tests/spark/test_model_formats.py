"""Loading options and model formats through predict / register_udf on local[2], against Keras/TF."""
import subprocess
import sys

import numpy as np
import pytest

import sparkdl

pytestmark = pytest.mark.slow


def _scale_layer_class():
    """A custom layer defined in a function: not importable, so it travels by value (cloudpickle)."""
    import keras

    class ScaleBy(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return ScaleBy


def _df(spark, rows=6, width=3):
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width) / 10
    return spark.createDataFrame([(i, x[i].tolist()) for i in range(rows)], "id int, x array<float>"), x


def _dense(inputs, seed=1):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.layers.Dense(2)(inputs)


def test_custom_layer_through_custom_objects_and_keras_model_object(spark, tmp_path):
    import keras

    scale_by = _scale_layer_class()
    inputs = keras.Input(shape=(3,), name="x")
    model = keras.Model(inputs, scale_by(3.0)(_dense(inputs)))
    path = str(tmp_path / "custom.keras")
    model.save(path)
    df, x = _df(spark)
    expected = model(x).numpy()
    with pytest.raises(sparkdl.ModelFormatError, match="custom_objects"):
        sparkdl.predict(df, path)
    got = sparkdl.predict(df, path, custom_objects={"ScaleBy": scale_by}).orderBy("id").collect()
    np.testing.assert_allclose([r.prediction for r in got], expected, rtol=1e-5)
    got = sparkdl.predict(df, model, custom_objects={"ScaleBy": scale_by}).orderBy("id").collect()
    np.testing.assert_allclose([r.prediction for r in got], expected, rtol=1e-5)


def test_train_with_custom_objects_trains_like_keras_fit(spark, tmp_path):
    """A custom layer that no module defines reaches the training tasks through custom_objects."""
    import keras

    scale_by = _scale_layer_class()
    inputs = keras.Input(shape=(3,), name="x")
    path = str(tmp_path / "custom_train.keras")
    keras.Model(inputs, scale_by(3.0)(_dense(inputs, seed=6))).save(path)
    x = np.random.default_rng(2).normal(size=(12, 3)).astype(np.float32)
    y = np.stack([x.sum(axis=1), x[:, 0] - x[:, 2]], axis=1).astype(np.float32)
    df = spark.createDataFrame([(x[i].tolist(), y[i].tolist()) for i in range(12)], "x array<float>, y array<float>")
    with pytest.raises(sparkdl.ModelFormatError, match="custom_objects"):
        sparkdl.train(df, path, features="x", label="y", loss="mse")
    result = sparkdl.train(df, path, features="x", label="y", loss="mse", optimizer=keras.optimizers.SGD(0.05),
                           batch_size=12, partitions=1, custom_objects={"ScaleBy": scale_by})
    reference = keras.models.load_model(path, custom_objects={"ScaleBy": scale_by}, compile=False)
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    fitted = reference.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0)
    assert type(result.model.layers[-1]).__name__ == "ScaleBy"
    assert result.history[0]["loss"] == pytest.approx(fitted.history["loss"][0], rel=1e-4)
    for ours, theirs in zip(result.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def test_custom_layer_module_through_imports(spark, tmp_path):
    """The model is saved by a separate process, so only `imports=` registers the layer here and on executors."""
    path = str(tmp_path / "offset.keras")
    script = ("import sys, keras; sys.path.insert(0, '.'); from tests.custom_layers import Offset; "
              "i = keras.Input(shape=(3,), name='x'); keras.utils.set_random_seed(1); "
              f"keras.Model(i, Offset(0.5)(keras.layers.Dense(2)(i))).save({path!r})")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    df, x = _df(spark)
    got = sparkdl.predict(df, path, imports=["tests.custom_layers"]).orderBy("id").collect()
    import keras

    expected = keras.models.load_model(path, compile=False)(x).numpy()
    np.testing.assert_allclose([r.prediction for r in got], expected, rtol=1e-5)
    stage = sparkdl.TFTransformer(model=path, imports=["tests.custom_layers"])
    got = stage.transform(df).orderBy("id").collect()
    np.testing.assert_allclose([r.prediction for r in got], expected, rtol=1e-5)
    with pytest.raises(sparkdl.ConfigError, match="no_such_module"):
        sparkdl.predict(df, path, imports=["no_such_module"])


def test_h5_file_from_keras_3(spark, tmp_path):
    import keras

    inputs = keras.Input(shape=(3,), name="x")
    model = keras.Model(inputs, _dense(inputs, seed=4))
    path = str(tmp_path / "legacy.h5")
    model.save(path)
    df, x = _df(spark)
    got = sparkdl.predict(df, path).orderBy("id").collect()
    np.testing.assert_allclose([r.prediction for r in got], model(x).numpy(), rtol=1e-5)


def _two_signatures(path):
    """A SavedModel whose functions declare (zeta, alpha): not the alphabetical order."""
    import tensorflow as tf

    class Module(tf.Module):
        def __init__(self):
            self.v = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="zeta"),
                                      tf.TensorSpec([None], tf.float32, name="alpha")])
        def serve(self, zeta, alpha):
            return {"out": zeta * self.v - alpha}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="zeta")])
        def double(self, zeta):
            return {"twice": zeta * 2.0}

    module = Module()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve, "double": module.double})


def test_named_signature_and_sql_udf_argument_order(spark, tmp_path):
    path = str(tmp_path / "sigs")
    _two_signatures(path)
    df = spark.createDataFrame([(1, 10.0, 1.0), (2, 20.0, 3.0)], "id int, zeta float, alpha float")
    got = sparkdl.predict(df, path, signature="double").orderBy("id").collect()
    assert [r.prediction for r in got] == [20.0, 40.0]
    with pytest.raises(sparkdl.ModelFormatError, match="double"):
        sparkdl.predict(df, path, signature="nope")

    udf = sparkdl.register_udf(spark, "zeta_alpha", path)
    df.createOrReplaceTempView("za")
    rows = spark.sql("SELECT id, zeta_alpha(zeta, alpha) AS p FROM za ORDER BY id").collect()
    assert [r.p for r in rows] == [19.0, 37.0]  # zeta * 2 - alpha: declared order, not alphabetical
    assert [r.p for r in df.select("id", udf("zeta", "alpha").alias("p")).orderBy("id").collect()] == [19.0, 37.0]
    with pytest.raises(sparkdl.SchemaError, match="declared order"):
        udf("zeta")
