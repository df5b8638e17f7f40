"""Loading options in training: a custom layer in a module shipped with addPyFile (as --py-files
does) trains through `train(..., imports=[...])` and `KerasEstimator(imports=[...])`."""
import subprocess
import sys
import uuid

import numpy as np
import pytest

import sparkdl

LAYER = '''
import keras


@keras.saving.register_keras_serializable(package="{package}")
class Shift(keras.layers.Layer):
    def __init__(self, shift=1.0, **kwargs):
        super().__init__(**kwargs)
        self.shift = shift

    def call(self, inputs):
        return inputs + self.shift

    def get_config(self):
        return {{**super().get_config(), "shift": self.shift}}
'''


@pytest.fixture(scope="module")
def shipped_layer(spark, tmp_path_factory):
    """(module name, .keras path): a model with a custom layer saved by another process; the module
    reaches this driver and the executors only through addPyFile."""
    root = tmp_path_factory.mktemp("layers")
    module = f"sparkdl_test_layers_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(LAYER.format(package=module))
    path = str(root / "shifted.keras")
    script = (f"import keras, {module}; keras.utils.set_random_seed(2); i = keras.Input((4,), name='x'); "
              f"keras.Model(i, {module}.Shift(0.5)(keras.layers.Dense(1)(i))).save({path!r})")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, cwd=root)
    spark.sparkContext.addPyFile(str(root / f"{module}.py"))
    return module, path


def _data(spark):
    x = np.random.default_rng(4).normal(size=(200, 4)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) + 1.0
    return spark.createDataFrame([(list(map(float, r)), float(t)) for r, t in zip(x, y)], "x array<float>, y double")


def test_train_with_imports_loads_the_custom_layer_on_driver_and_executors(spark, shipped_layer):
    module, path = shipped_layer
    df = _data(spark)
    with pytest.raises(sparkdl.ModelFormatError, match="imports=\\['module'\\]"):
        sparkdl.train(df, path, features="x", label="y", loss="mse")  # before any job: the driver cannot load it
    result = sparkdl.train(df, path, features="x", label="y", loss="mse", optimizer="adam", epochs=3,
                           batch_size=50, imports=[module])
    losses = [epoch["loss"] for epoch in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert type(result.model.layers[-1]).__name__ == "Shift"


def test_keras_estimator_passes_imports_to_training_and_to_its_transformer(spark, shipped_layer, tmp_path):
    module, path = shipped_layer
    df = _data(spark)
    estimator = sparkdl.KerasEstimator(model=path, features="x", label="y", loss="mse", optimizer="adam",
                                       batchSize=50, imports=module, outputPath=str(tmp_path / "fit.keras"))
    assert estimator.getImports() == [module]
    stage = estimator.fit(df)
    assert stage.getOrDefault(stage.imports) == [module]
    rows = stage.transform(df.limit(20)).collect()
    import importlib

    import keras

    importlib.import_module(module)
    trained = keras.models.load_model(str(tmp_path / "fit.keras"), compile=False)
    expected = trained(np.array([r.x for r in rows], np.float32)).numpy()
    np.testing.assert_allclose([r.prediction for r in rows], expected, rtol=1e-5, atol=1e-6)
