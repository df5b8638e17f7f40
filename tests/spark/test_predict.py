"""`sparkdl.predict` on a real local[2] SparkSession against direct Keras calls."""
import numpy as np
import pytest
from pyspark.sql import functions as F

import sparkdl
from sparkdl import ConfigError, ModelFormatError, ModelNotFoundError, SchemaError

pytestmark = pytest.mark.slow


def _frame(spark, **columns):
    """A DataFrame with an `id` column and one array column per numpy array (nested for n-d)."""
    names = list(columns)
    rows = len(next(iter(columns.values())))
    data = [(i, *[columns[n][i].tolist() for n in names]) for i in range(rows)]
    types = ", ".join(f"{n} {'array<' * (columns[n].ndim - 1)}float{'>' * (columns[n].ndim - 1)}" for n in names)
    return spark.createDataFrame(data, f"id long, {types}").repartition(3)


def _column(rows, name):
    return np.array([row[name] for row in rows], dtype=np.float32)


@pytest.mark.parametrize("form", ["keras", "savedmodel_uri"])
def test_mlp_predictions_equal_keras(spark, mlp, rng, form):
    model, keras_path, saved_dir = mlp
    x = rng.normal(size=(300, 8)).astype(np.float32)
    uri = keras_path if form == "keras" else f"file://{saved_dir}"
    rows = sparkdl.predict(_frame(spark, features=x), uri, batch_size=64).orderBy("id").collect()
    assert len(rows) == 300
    assert rows[5]["features"] == pytest.approx(x[5].tolist())
    np.testing.assert_allclose(_column(rows, "prediction"), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_single_input_binds_to_the_only_array_column_and_double_is_cast(spark, mlp, rng):
    model, keras_path, _ = mlp
    x = rng.normal(size=(20, 8))
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(20)], "id long, values array<double>")
    rows = sparkdl.predict(df, keras_path, outputs={"output_0": "p"}).orderBy("id").collect()
    np.testing.assert_allclose(_column(rows, "p"), model(x.astype(np.float32)).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", [1, 2])
def test_multi_input_multi_output(spark, multi_io, rng, form):
    model, keras_path, saved_dir = multi_io
    a = rng.normal(size=(50, 4)).astype(np.float32)
    b = rng.normal(size=(50, 2, 3)).astype(np.float32)
    df = _frame(spark, col_a=a, col_b=b)
    score, grid = model([a, b])
    if form == 1:
        out = sparkdl.predict(df, keras_path, inputs={"a": "col_a", "b": "col_b"}, batch_size=16)
        names = ("score", "grid")
    else:
        out = sparkdl.predict(df, saved_dir, inputs="a=col_a,b=col_b", outputs="output_0=s,output_1=g")
        names = ("s", "g")
    assert out.columns == ["id", "col_a", "col_b", *names]
    assert dict(out.dtypes)[names[1]] == "array<array<float>>"
    rows = out.orderBy("id").collect()
    np.testing.assert_allclose(_column(rows, names[0]), score.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_column(rows, names[1]), grid.numpy(), rtol=1e-5, atol=1e-6)


def test_cnn_with_4d_input_from_nested_arrays(spark, cnn, rng):
    model, keras_path, saved_dir = cnn
    images = rng.normal(size=(40, 8, 8, 3)).astype(np.float32)
    rows = sparkdl.predict(_frame(spark, image=images), saved_dir, batch_size=8).orderBy("id").collect()
    np.testing.assert_allclose(_column(rows, "prediction"), model(images).numpy(), rtol=1e-4, atol=1e-5)


def test_cnn_fed_from_a_flat_array_column(spark, cnn, rng):
    model, keras_path, _ = cnn
    images = rng.normal(size=(30, 8, 8, 3)).astype(np.float32)
    rows = sparkdl.predict(_frame(spark, pixels=images.reshape(30, -1)), keras_path).orderBy("id").collect()
    np.testing.assert_allclose(_column(rows, "prediction"), model(images).numpy(), rtol=1e-4, atol=1e-5)


def test_keep_returns_only_the_named_input_columns(spark, cnn, rng):
    model, keras_path, _ = cnn
    images = rng.normal(size=(30, 8, 8, 3)).astype(np.float32)
    df = _frame(spark, pixels=images.reshape(30, -1)).withColumn("label", F.col("id") % 3)
    scored = sparkdl.predict(df, keras_path, keep=["label", "id"])
    assert scored.columns == ["label", "id", "prediction"]
    rows = scored.orderBy("id").collect()
    assert [row["label"] for row in rows] == [i % 3 for i in range(30)]
    np.testing.assert_allclose(_column(rows, "prediction"), model(images).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("keep, error, message", [
    (["id", "nope"], SchemaError, r"keep names column\(s\) \['nope'\], which the DataFrame does not have; "
                                  r"its columns are \['id', 'pixels'\]"),
    (["id", "id"], ConfigError, r"keep: each column may appear once, but \['id'\]"),
    ([3], ConfigError, r"keep must be a list of column names, e.g. keep=\['id'\], got \[3\]"),
])
def test_bad_keep_fails_before_scoring(spark, cnn, keep, error, message):
    df = spark.createDataFrame([(1, [1.0] * 192)], "id long, pixels array<float>")
    with pytest.raises(error, match=message):
        sparkdl.predict(df, cnn[1], keep=keep)


def test_flat_array_of_the_wrong_size_fails_before_scoring(spark, cnn):
    df = spark.createDataFrame([([1.0] * 190,)], "pixels array<float>")
    with pytest.raises(SchemaError, match=r"holds 190 values .* needs 192"):
        sparkdl.predict(df, cnn[1])


def test_cnn_fed_from_raw_tensor_bytes(spark, cnn, rng):
    model, _, saved_dir = cnn
    images = rng.normal(size=(25, 8, 8, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, images[i].tobytes()) for i in range(25)], "id long, image binary")
    rows = sparkdl.predict(df, saved_dir, batch_size=10).orderBy("id").collect()
    np.testing.assert_allclose(_column(rows, "prediction"), model(images).numpy(), rtol=1e-4, atol=1e-5)
    short = spark.createDataFrame([(images[0].tobytes()[:100],)], "image binary")
    with pytest.raises(SchemaError, match=r"holds 100 bytes .* needs 768"):
        sparkdl.predict(short, saved_dir)


def test_second_predict_loads_nothing(spark, mlp, rng):
    _, keras_path, _ = mlp
    df = _frame(spark, features=rng.normal(size=(100, 8)).astype(np.float32))
    sparkdl.predict(df, keras_path).count()
    before = sparkdl.model_loads(spark)
    assert before >= 1
    assert sparkdl.predict(df, keras_path).count() == 100
    assert sparkdl.predict(df, keras_path, batch_size=7).count() == 100
    assert sparkdl.model_loads(spark) == before


def test_empty_dataframe_scores_to_empty(spark, mlp):
    _, keras_path, _ = mlp
    df = spark.createDataFrame([], "id long, features array<float>")
    assert sparkdl.predict(df, keras_path).collect() == []


def test_null_row_fails_with_the_column_and_row_named(spark, mlp):
    _, keras_path, _ = mlp
    df = spark.createDataFrame([(1, [0.0] * 8), (2, None)], "id long, features array<float>").coalesce(1)
    with pytest.raises(Exception, match=r"column 'features': a row is null.*\[partition 0, row 1 of the partition\]"):
        sparkdl.predict(df, keras_path).collect()
    with pytest.raises(Exception, match=r"\[partition 0, row 1 of the partition \(id=2\)\]"):
        sparkdl.predict(df, keras_path, keep=["id"]).collect()


def test_any_column_name_spark_allows(spark, mlp, rng):
    model, keras_path, _ = mlp
    x = rng.normal(size=(12, 8)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist(), i) for i in range(12)], "`my id` long, `feat.x` array<float>, "
                                                                            "`b``q` long")
    scored = sparkdl.predict(df, keras_path, inputs={"features": "feat.x"}, outputs={"output_0": "p.1"},
                             keep=["my id", "b`q"])
    assert scored.columns == ["my id", "b`q", "p.1"]
    rows = scored.orderBy("`my id`").collect()
    np.testing.assert_allclose(_column(rows, "p.1"), model(x).numpy(), rtol=1e-5, atol=1e-6)


class TestDriverValidation:
    """Each mistake fails on the driver, naming the value seen and the fix."""

    def test_missing_column(self, spark, multi_io):
        df = spark.createDataFrame([([1.0] * 4,)], "a array<float>")
        with pytest.raises(SchemaError, match=r"needs column 'b', which the DataFrame does not have.*\['a'\]"):
            sparkdl.predict(df, multi_io[1])

    def test_wrong_dtype(self, spark, mlp):
        df = spark.createDataFrame([(["x"] * 8,)], "features array<string>")
        with pytest.raises(SchemaError, match=r"array<string>.*cannot feed model input 'features' float32\[8\]"):
            sparkdl.predict(df, mlp[1])

    def test_wrong_rank(self, spark, cnn):
        df = spark.createDataFrame([([[1.0] * 24] * 8,)], "image array<array<float>>")
        with pytest.raises(SchemaError, match=r"has 2 array level\(s\) but model input 'image' float32\[8, 8, 3\]"):
            sparkdl.predict(df, cnn[1])

    def test_wrong_length_in_first_row(self, spark, mlp):
        df = spark.createDataFrame([([1.0] * 5,)], "features array<float>")
        with pytest.raises(SchemaError, match=r"holds 5 values .* needs 8"):
            sparkdl.predict(df, mlp[1])

    def test_prediction_column_clash(self, spark, mlp):
        df = spark.createDataFrame([([1.0] * 8, 1.0)], "features array<float>, prediction double")
        with pytest.raises(SchemaError, match=r"\['prediction'\] already exist"):
            sparkdl.predict(df, mlp[1])

    def test_batch_size(self, spark, mlp):
        df = spark.createDataFrame([([1.0] * 8,)], "features array<float>")
        with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
            sparkdl.predict(df, mlp[1], batch_size=0)

    def test_unreadable_model_path(self, spark, tmp_path):
        df = spark.createDataFrame([([1.0] * 8,)], "features array<float>")
        with pytest.raises(ModelNotFoundError, match="does not exist"):
            sparkdl.predict(df, f"file://{tmp_path}/missing.keras")

    def test_damaged_keras_file(self, spark, mlp, tmp_path):
        damaged = tmp_path / "damaged.keras"
        damaged.write_bytes(open(mlp[1], "rb").read()[:2000])  # a copy cut short
        df = spark.createDataFrame([([1.0] * 8,)], "features array<float>")
        with pytest.raises(ModelFormatError, match=rf"cannot read model '{damaged}': .*looks damaged or incomplete; "
                                                   r"save it again with model.save\('model.keras'\)"):
            sparkdl.predict(df, str(damaged))

    def test_not_a_model(self, spark, tmp_path):
        (tmp_path / "notes.txt").write_text("hi")
        df = spark.createDataFrame([([1.0] * 8,)], "features array<float>")
        with pytest.raises(ModelFormatError, match="not a TensorFlow SavedModel"):
            sparkdl.predict(df, str(tmp_path))
