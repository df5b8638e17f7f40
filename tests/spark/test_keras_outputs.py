""".keras models whose outputs are a dict or a list score on executors like direct model(x) calls."""
import numpy as np
import pytest

import sparkdl

pytestmark = pytest.mark.slow


def _two_heads(structure: str):
    import keras

    keras.utils.set_random_seed(5)
    inp = keras.Input((3,), name="x")
    hidden = keras.layers.Dense(4, activation="relu")(inp)
    b = keras.layers.Dense(1, name="head_b")(hidden)
    a = keras.layers.Dense(2, name="head_a")(hidden)
    return keras.Model(inp, {"b": b, "a": a} if structure == "dict" else [b, a])


@pytest.mark.parametrize("structure, names", [("dict", ("a", "b")), ("list", ("head_a", "head_b"))])
def test_multi_output_keras_model_scores_like_direct_calls(spark, tmp_path, rng, structure, names):
    model = _two_heads(structure)
    path = str(tmp_path / f"{structure}.keras")
    model.save(path)
    x = rng.normal(size=(12, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(12)], "id long, x array<float>")

    rows = sparkdl.predict(df, path, outputs={names[0]: "pa", names[1]: "pb"}, batch_size=5).orderBy("id").collect()

    expected = model(x)
    expected_a, expected_b = (expected["a"], expected["b"]) if structure == "dict" else (expected[1], expected[0])
    np.testing.assert_allclose(np.array([r.pa for r in rows]), expected_a.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array([r.pb for r in rows]), expected_b.numpy(), rtol=1e-5, atol=1e-6)


def test_dict_output_names_are_the_keys_by_default(spark, tmp_path, rng):
    model = _two_heads("dict")
    path = str(tmp_path / "dict.keras")
    model.save(path)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(4)], "id long, x array<float>")

    rows = sparkdl.predict(df, path).orderBy("id").collect()

    np.testing.assert_allclose(np.array([r.a for r in rows]), model(x)["a"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array([r.b for r in rows]), model(x)["b"].numpy(), rtol=1e-5, atol=1e-6)
