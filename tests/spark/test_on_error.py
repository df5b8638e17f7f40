"""The bad-row policy: on_error="null" scores the good rows exactly and nulls the others with a reason;
"raise" names the row. Through predict, score_files and jobs/batch_score.py (both engines)."""
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import sparkdl
from sparkdl import _cli
from sparkdl.errors import ConfigError, SchemaError
from tests import models
from tests.unit.test_images import encoded
from tests.unit.test_job_flags import load_job


@pytest.fixture(scope="module")
def table_and_model(tmp_path_factory):
    """20 rows of 8 floats for an 8->3 MLP, with a null row, a short row, a row holding a null, and rows
    holding NaN and -inf (non-finite: bad under "null", passed to the model under "raise")."""
    root = tmp_path_factory.mktemp("on_error")
    model, keras_path, _ = models.save_both(models.mlp(8, 3), root / "mlp")
    values = np.random.default_rng(1).normal(size=(20, 8)).astype(np.float32)
    rows = [list(map(float, row)) for row in values]
    rows[3], rows[5], rows[7][2], rows[12][4], rows[16][0] = None, rows[5][:7], None, float("nan"), float("-inf")
    table = pa.table({"id": pa.array(range(20), pa.int64()), "x": pa.array(rows, pa.list_(pa.float32()))})
    (root / "data").mkdir()
    pq.write_table(table.slice(0, 10), root / "data" / "part-0.parquet")
    pq.write_table(table.slice(10), root / "data" / "part-1.parquet")
    return root / "data", table, model, keras_path, model(values).numpy()


BAD = (3, 5, 7, 12, 16)


def check_scored(ids, predictions, errors, model_output):
    """Good rows equal the model; bad rows are null with an error naming the column and the cause."""
    assert sorted(ids) == list(range(20))
    for row_id, prediction, error in zip(ids, predictions, errors):
        if row_id in BAD:
            assert prediction is None and error.startswith("column 'x': ")
        else:
            assert error is None
            np.testing.assert_allclose(prediction, model_output[row_id], rtol=1e-5, atol=1e-6)
    causes = dict(zip(ids, errors))
    assert "a row is null" in causes[3] and "7 values" in causes[5] and "null value" in causes[7]
    assert "non-finite value nan at position 4" in causes[12] and "non-finite value -inf at position 0" in causes[16]


def test_predict_with_on_error_null_scores_the_good_rows_and_explains_the_bad(spark, table_and_model):
    root, table, _, keras_path, output = table_and_model
    df = spark.createDataFrame(table.to_pylist(), "id long, x array<float>").repartition(2)
    scored = sparkdl.predict(df, keras_path, keep=["id"], on_error="null")
    assert scored.columns == ["id", "prediction", "error"]
    rows = scored.collect()
    check_scored([r.id for r in rows], [r.prediction for r in rows], [r.error for r in rows], output)


def test_on_error_null_nulls_an_integer_that_overflows_the_input(spark, tmp_path):
    import keras

    inputs = keras.Input(shape=(1,), dtype="int32", name="code")
    keras.Model(inputs, keras.layers.Identity()(inputs)).save(str(tmp_path / "ints.keras"))
    df = spark.createDataFrame([(0, 7), (1, 2**31 + 5), (2, -3)], "id long, code bigint").coalesce(1)
    rows = sparkdl.predict(df, str(tmp_path / "ints.keras"), keep=["id"], on_error="null").orderBy("id").collect()
    assert [(r.prediction, r.error is None) for r in rows] == [([7], True), (None, False), ([-3], True)]
    assert rows[1].error.startswith(f"column 'code': value {2**31 + 5} does not fit the model input's int32")


def test_on_error_raise_names_the_partition_and_the_rows_key(spark, table_and_model):
    _, table, _, keras_path, _ = table_and_model
    df = spark.createDataFrame(table.to_pylist(), "id long, x array<float>").coalesce(1)
    non_finite = sparkdl.predict(df.filter("id IN (12, 16)"), keras_path, keep=["id"]).orderBy("id").collect()
    assert [len(r.prediction) for r in non_finite] == [3, 3]  # NaN / -inf reach the model as they are:
    assert not np.isfinite(non_finite[1].prediction).all()    # -inf through the softmax MLP gives NaN
    with pytest.raises(Exception, match=r"TensorError: column 'x': a row is null.*\[partition 0, row 3 of the "
                                        r"partition \(id=3\)\]"):
        sparkdl.predict(df, keras_path, keep=["id"]).collect()


def test_bad_policy_values_and_a_clashing_error_column_are_refused(spark, table_and_model):
    _, table, _, keras_path, _ = table_and_model
    df = spark.createDataFrame(table.to_pylist(), "id long, x array<float>")
    with pytest.raises(ConfigError, match=r"on_error must be one of \('raise', 'null'\), got 'skip'"):
        sparkdl.predict(df, keras_path, on_error="skip")
    with pytest.raises(SchemaError, match="on_error='null' adds a column 'error', which the output already has"):
        sparkdl.predict(df.withColumnRenamed("id", "error"), keras_path, on_error="null")


def test_score_files_with_on_error_null_counts_the_bad_rows(spark, table_and_model, tmp_path):
    root, _, _, keras_path, output = table_and_model
    summary = sparkdl.score_files(spark, keras_path, str(root), str(tmp_path / "out"), keep=["id"], on_error="null")
    assert summary["rows"] == 20 and summary["bad_rows"] == len(BAD)
    written = pq.read_table(tmp_path / "out")
    assert written.column_names == ["id", "prediction", "error"]
    check_scored(*(written.column(name).to_pylist() for name in ("id", "prediction", "error")), output)


@pytest.mark.parametrize("engine", ["arrow", "spark"])
def test_batch_job_on_error_null_writes_every_row_and_counts_the_bad(spark, table_and_model, tmp_path, capsys,
                                                                     engine):
    root, _, _, keras_path, output = table_and_model
    code = _cli.run(load_job("batch_score").main, ["--model", keras_path, "--input", str(root), "--output",
                                                   str(tmp_path / "out"), "--keep", "id", "--on-error", "null",
                                                   "--engine", engine])
    assert code == 0, capsys.readouterr().err[-2000:]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 20 and summary["bad_rows"] == len(BAD) and summary["engine"] == engine
    written = pq.read_table(tmp_path / "out")
    check_scored(*(written.column(name).to_pylist() for name in ("id", "prediction", "error")), output)


def test_undecodable_and_null_images_get_null_predictions(spark, tmp_path):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "m.keras")
    good = encoded("PNG", "RGB", 16, 16)
    df = spark.createDataFrame([(0, good), (1, b"\x89PNG broken"), (2, None), (3, good)], "id long, content binary")
    rows = sparkdl.predict(df, str(tmp_path / "m.keras"), keep=["id"], on_error="null",
                           inputs={"pixels": sparkdl.image("content", size=16)}).orderBy("id").collect()
    want = model(np.asarray(Image.open(io.BytesIO(good)))[None] / np.float32(255))
    for row in (rows[0], rows[3]):
        np.testing.assert_allclose(row.prediction, want.numpy()[0], rtol=1e-5, atol=1e-6)
        assert row.error is None
    assert rows[1].prediction is None and "cannot decode the image (11 bytes)" in rows[1].error
    assert rows[2].prediction is None and "the image is null" in rows[2].error
    with pytest.raises(Exception, match=r"TensorError: column 'content': cannot decode the image .*\(id=1\)"):
        sparkdl.predict(df.filter("id != 2").coalesce(1), str(tmp_path / "m.keras"), keep=["id"],
                        inputs={"pixels": sparkdl.image("content", size=16)}).collect()
