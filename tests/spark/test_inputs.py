"""Column kinds real models take, through predict/train on local[2], against direct Keras/TF calls:
scalar columns into (1,) inputs, strings into tf.string inputs, Spark ML vectors, int overflow."""
import numpy as np
import pytest

import sparkdl

pytestmark = pytest.mark.slow

FEATURES = ["age", "income", "visits", "score", "tenure", "clicks"]


def _tabular(seed=7):
    """A functional model with one Input(shape=(1,)) per feature, as Keras tabular tutorials build."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape=(1,), name=name) for name in FEATURES]
    hidden = keras.layers.Dense(4, activation="relu")(keras.layers.Concatenate()(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def _tabular_df(spark, rows=32):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, len(FEATURES)))
    records = [(i, *[float(v) for v in values[i, :-2]], int(values[i, -2] * 10), int(values[i, -1] * 10))
               for i in range(rows)]
    schema = "id bigint, " + ", ".join(f"{n} double" for n in FEATURES[:-2]) + ", tenure bigint, clicks int"
    return spark.createDataFrame(records, schema)


def test_six_scalar_columns_feed_shape_1_inputs_in_predict_and_train(spark, tmp_path):
    model = _tabular()
    path = str(tmp_path / "tabular.keras")
    model.save(path)
    df = _tabular_df(spark)
    got = sparkdl.predict(df, path, keep=["id"]).orderBy("id").collect()
    local = df.orderBy("id").toPandas()
    expected = model.predict({n: local[n].to_numpy("float32").reshape(-1, 1) for n in FEATURES}, verbose=0)
    np.testing.assert_allclose([row.prediction for row in got], expected, rtol=1e-5, atol=1e-6)

    import keras

    labelled = df.withColumn("label", df.age * 2.0 - df.clicks * 0.1)
    result = sparkdl.train(labelled, _tabular(), features=FEATURES, label="label", loss="mse", epochs=1,
                           batch_size=32, optimizer=keras.optimizers.SGD(0.05), partitions=1)
    reference = _tabular()  # the same initial weights, trained by Keras itself: one step over all 32 rows
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    labels = (local["age"] * 2.0 - local["clicks"] * 0.1).to_numpy("float32")
    fitted = reference.fit({n: local[n].to_numpy("float32").reshape(-1, 1) for n in FEATURES}, labels,
                           batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert result.history[0]["loss"] == pytest.approx(fitted.history["loss"][0], rel=1e-4)
    for ours, theirs, initial in zip(result.model.get_weights(), reference.get_weights(), _tabular().get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)
    assert any(np.abs(w - i).max() > 1e-3 for w, i in zip(reference.get_weights(), _tabular().get_weights()))


def test_bigint_overflowing_int32_input_is_an_error_naming_column_and_value(spark, tmp_path):
    import keras

    inputs = keras.Input(shape=(1,), dtype="int32", name="code")
    keras.Model(inputs, keras.layers.Identity()(inputs)).save(str(tmp_path / "ints.keras"))
    from pyspark.errors import PythonException

    df = spark.createDataFrame([(1,), (2**31 + 5,)], "code bigint").coalesce(1)
    with pytest.raises(PythonException, match=rf"TensorError: column 'code': value {2**31 + 5} does not fit the "
                                              rf"model input's int32 \(range -2147483648\.\.2147483647\).*"
                                              rf"\[partition 0, row 1 of the partition\]"):
        sparkdl.predict(df, str(tmp_path / "ints.keras")).collect()


COUNTRIES = ["fr", "de", "us", "jp", "br"]


def test_string_lookup_model_from_a_string_column(spark, tmp_path):
    import keras

    inputs = keras.Input(shape=(1,), dtype="string", name="country")
    index = keras.layers.StringLookup(vocabulary=COUNTRIES[:4])(inputs)
    model = keras.Model(inputs, keras.layers.Embedding(6, 3)(index))
    model.save(str(tmp_path / "lookup.keras"))
    values = COUNTRIES + ["fr", "zz"]
    df = spark.createDataFrame([(i, c) for i, c in enumerate(values)], "id int, country string")
    got = sparkdl.predict(df, str(tmp_path / "lookup.keras"), keep=["id"]).orderBy("id").collect()
    import tensorflow as tf

    expected = model(tf.constant(values)[:, None]).numpy()
    np.testing.assert_allclose(np.array([row.prediction for row in got]), expected, rtol=1e-6)


def test_text_vectorization_model_from_a_string_column(spark, tmp_path):
    import keras
    import tensorflow as tf

    texts = ["the cat sat", "a dog ran far away", "the dog sat on the cat", "birds fly"]
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(), dtype="string", name="text")
    model = keras.Model(inputs, vectorize(inputs))
    model.save(str(tmp_path / "text.keras"))
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id int, text string")
    got = sparkdl.predict(df, str(tmp_path / "text.keras"), keep=["id"]).orderBy("id").collect()
    expected = model(tf.constant(texts)).numpy()
    np.testing.assert_array_equal(np.array([row.prediction for row in got]), expected)


class _Greeter:
    """A tf.Module whose serving signature takes strings."""

    def build(self):
        import tensorflow as tf

        class Module(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="name"),
                                          tf.TensorSpec([None, 2], tf.string, name="tags")])
            def serve(self, name, tags):
                joined = tf.strings.reduce_join(tags, axis=1, separator="+")
                return {"length": tf.strings.length(tf.strings.join([name, joined], separator=":"))}

        return Module()


def test_saved_model_with_a_string_signature(spark, tmp_path):
    import tensorflow as tf

    module = _Greeter().build()
    tf.saved_model.save(module, str(tmp_path / "strings"), signatures={"serving_default": module.serve})
    names, tags = ["ann", "bob", "éva"], [["a", "b"], ["cc", ""], ["x", "yy"]]
    df = spark.createDataFrame([(i, names[i], tags[i]) for i in range(3)], "id int, name string, tags array<string>")
    wrong = df.withColumn("name", df.id)  # an int column for a tf.string input: refused on the driver
    with pytest.raises(sparkdl.SchemaError, match=r"'name' string\[\]") as caught:
        sparkdl.predict(wrong, str(tmp_path / "strings"))
    assert "column 'name' has type int" in str(caught.value) and "object" not in str(caught.value)
    got = sparkdl.predict(df, str(tmp_path / "strings"), keep=["id"]).orderBy("id").collect()
    expected = module.serve(tf.constant(names), tf.constant(tags))["length"].numpy()
    assert [row.prediction for row in got] == expected.tolist()


def test_string_column_into_a_numeric_input_names_the_fix(spark, tmp_path):
    import keras

    inputs = keras.Input(shape=(1,), name="x")
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(str(tmp_path / "num.keras"))
    df = spark.createDataFrame([("a",)], "x string")
    with pytest.raises(sparkdl.SchemaError, match="StringIndexer"):
        sparkdl.predict(df, str(tmp_path / "num.keras"))


def test_vector_columns_dense_and_sparse_feed_a_float_input(spark, tmp_path):
    import keras
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.linalg import SparseVector, Vectors

    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(4,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.save(str(tmp_path / "vec.keras"))
    rows = [(0, 1.0, 2.0, 0.0, -1.0), (1, 0.0, 0.0, 0.0, 3.5), (2, 0.5, -2.0, 1.0, 0.0)]
    raw = spark.createDataFrame(rows, "id int, a double, b double, c double, d double")
    dense = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features").transform(raw)
    sparse = spark.createDataFrame([(i, SparseVector(4, {j: v for j, v in enumerate(r[1:]) if v}))
                                    for i, r in enumerate(rows)], ["id", "features"])
    assert isinstance(sparse.first().features, SparseVector)
    expected = model.predict(np.array([r[1:] for r in rows], np.float32), verbose=0)
    for df in (dense.select("id", "features"), sparse):
        got = sparkdl.predict(df, str(tmp_path / "vec.keras")).orderBy("id").collect()
        np.testing.assert_allclose([row.prediction for row in got], expected, rtol=1e-5, atol=1e-6)
        assert isinstance(got[0].features, type(Vectors.dense([0.0]))) or got[0].features is not None
