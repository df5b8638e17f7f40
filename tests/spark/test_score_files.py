"""`sparkdl.score_files` on a real local[2] SparkSession against direct Keras calls."""
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sparkdl
from sparkdl import ConfigError, StorageError, TensorError, examples

pytestmark = pytest.mark.slow


def _scores(output, column="score", fmt="parquet"):
    """(ids, predictions) of a scored output, sorted by id."""
    if fmt == "orc":
        from pyarrow import orc

        table = pa.concat_tables(orc.read_table(os.path.join(output, f)) for f in sorted(os.listdir(output))
                                 if f.endswith(".orc"))
    else:
        table = pq.read_table(output)
    table = table.sort_by("id")
    return table.column("id").to_numpy(), np.stack(table.column(column).to_numpy(zero_copy_only=False))


def _expected(model, table, column="x"):
    return model(np.stack(table.column(column).to_numpy(zero_copy_only=False)).astype(np.float32)).numpy()


def test_values_equal_keras_and_every_row_is_written_once(spark, mlp, tmp_path):
    model, keras_path, _ = mlp
    table = examples.features_table(2300, (8,), seed=3, column="x")
    data = tmp_path / "in"
    data.mkdir()
    for i, start in enumerate(range(0, 1000, 100)):  # ten small files
        pq.write_table(table.slice(start, 100), data / f"small-{i}.parquet")
    pq.write_table(table.slice(1000, 1300), data / "large.parquet", row_group_size=200)  # 7 row groups
    pq.write_table(table.slice(0, 0), data / "empty.parquet")
    (data / "_SUCCESS").write_text("")
    output = tmp_path / "out"
    summary = sparkdl.score_files(spark, keras_path, str(data), str(output), keep=["id"],
                                  outputs={"output_0": "score"}, split_bytes=20_000, batch_bytes=4096)
    assert summary["rows"] == 2300 and summary["input_files"] == 12 and summary["files"] == summary["tasks"] > 2
    ids, scores = _scores(output)
    np.testing.assert_array_equal(ids, np.arange(2300))  # each row once: none lost, none twice
    np.testing.assert_allclose(scores, _expected(model, table), rtol=1e-5, atol=1e-6)
    assert (output / "_SUCCESS").exists() and not (output / "_temporary").exists()
    assert pq.read_table(output).column_names == ["id", "score"]
    assert spark.read.parquet(str(output)).count() == 2300  # Spark reads what pyarrow wrote


def _write(table, path, fmt):
    path.mkdir()
    if fmt == "orc":
        from pyarrow import orc

        orc.write_table(table, path / "a.orc", stripe_size=4096)
        orc.write_table(table.slice(0, 0), path / "empty.orc")
    elif fmt == "json":
        (path / "a.json").write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
        (path / "empty.json").write_text("")
    elif fmt == "arrow":
        with pa.ipc.new_file(str(path / "a.arrow"), table.schema) as writer:
            for batch in table.to_batches(max_chunksize=100):
                writer.write_batch(batch)
    else:
        table.to_pandas().to_csv(path / "a.csv", index=False)
        table.slice(0, 0).to_pandas().to_csv(path / "empty.csv", index=False)


@pytest.mark.parametrize("fmt", ["orc", "json", "arrow"])
def test_each_input_format_scores_like_keras(spark, mlp, tmp_path, fmt):
    model, keras_path, _ = mlp
    table = examples.features_table(400, (8,), seed=5, column="x")
    _write(table, tmp_path / "in", fmt)
    output_format = "orc" if fmt == "arrow" else "parquet"
    summary = sparkdl.score_files(spark, keras_path, str(tmp_path / "in"), str(tmp_path / "out"), input_format=fmt,
                                  output_format=output_format, outputs={"output_0": "score"})
    assert summary["rows"] == 400
    ids, scores = _scores(str(tmp_path / "out"), fmt=output_format)
    np.testing.assert_array_equal(ids, np.arange(400))
    np.testing.assert_allclose(scores, _expected(model, table), rtol=1e-5, atol=1e-6)


def test_csv_columns_feed_scalar_inputs(spark, tmp_path):
    import keras

    a, b = keras.Input((), name="a"), keras.Input((), name="b")
    joined = keras.layers.Concatenate()([keras.layers.Reshape((1,))(a), keras.layers.Reshape((1,))(b)])
    model = keras.Model([a, b], keras.layers.Dense(2)(joined))
    model.save(tmp_path / "scalar.keras")
    rng = np.random.default_rng(1)
    table = pa.table({"id": np.arange(300), "a": rng.normal(size=300), "b": rng.normal(size=300)})
    _write(table, tmp_path / "in", "csv")
    summary = sparkdl.score_files(spark, str(tmp_path / "scalar.keras"), str(tmp_path / "in"), str(tmp_path / "out"),
                                  input_format="csv", keep=["id"])
    assert summary["rows"] == 300
    ids, scores = _scores(str(tmp_path / "out"), column="prediction")
    expected = model([table.column("a").to_numpy().astype(np.float32), table.column("b").to_numpy().astype(np.float32)])
    np.testing.assert_allclose(scores, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_existing_output_needs_overwrite_and_is_replaced_after_success(spark, mlp, tmp_path):
    model, keras_path, _ = mlp
    table = examples.features_table(300, (8,), seed=8, column="x")
    data = examples.write_parquet(table, tmp_path / "in", files=2)
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("user data")
    spark.sparkContext.setJobGroup("score-files-refused", "must not run")
    try:
        with pytest.raises(StorageError, match="already exists; choose a new path or pass overwrite=True"):
            sparkdl.score_files(spark, keras_path, data, str(output))
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert spark.sparkContext.statusTracker().getJobIdsForGroup("score-files-refused") == []  # refused before a job
    assert (output / "old.txt").read_text() == "user data"
    sc = spark.sparkContext
    sc.setJobGroup("score-files-described", "the caller's description")
    try:
        summary = sparkdl.score_files(spark, keras_path, data, str(output), overwrite=True, keep=["id"])
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    described = _descriptions(sc, "score-files-described")
    assert len(described) == 1 and described[0].startswith(f"sparkdl score_files: {data} -> {output} (")
    assert sc.getLocalProperty("spark.job.description") == "the caller's description"  # put back
    sc.setLocalProperty("spark.job.description", None)
    assert summary["rows"] == 300 and not (output / "old.txt").exists()
    ids, scores = _scores(str(output), column="prediction")
    np.testing.assert_allclose(scores, _expected(model, table), rtol=1e-5, atol=1e-6)


def _descriptions(sc, group):
    """The descriptions of the jobs of `group`, from the driver's status store."""
    jobs = sc._jsc.sc().statusStore().jobsList(None)
    found = [jobs.apply(i) for i in range(jobs.size())]
    return [job.description().get() for job in sorted(found, key=lambda job: job.jobId())
            if job.jobGroup().isDefined() and job.jobGroup().get() == group and job.description().isDefined()]


def test_output_at_the_input_in_any_spelling_is_refused_before_the_output_is_claimed(spark, mlp, tmp_path,
                                                                                      monkeypatch):
    from sparkdl.inference import files

    _, keras_path, _ = mlp
    data = examples.write_parquet(examples.features_table(50, (8,), seed=4, column="x"), tmp_path / "in", files=2)
    os.symlink(data, tmp_path / "link")
    before = _snapshot(tmp_path / "in")

    def claimed(*args, **kwargs):
        raise AssertionError("the output was claimed (JobCommitter built) before the same-location check")

    monkeypatch.setattr(files, "JobCommitter", claimed)
    spellings = [f"file://{tmp_path}/in/../in", f"{data}/", f"file:{data}", f"file://{data}",
                 os.path.join(data, "scored"), str(tmp_path / "link"), str(tmp_path)]
    for output in spellings:
        with pytest.raises(ConfigError, match=r"are the same directory or one holds the other .*write the output "
                                              r"to a path outside the input"):
            sparkdl.score_files(spark, keras_path, data, output, overwrite=True)
    with pytest.raises(ConfigError, match="same directory or one holds the other"):
        sparkdl.score_files(spark, keras_path, f"file://{tmp_path}/link/", data, overwrite=True)
    assert _snapshot(tmp_path / "in") == before and sorted(os.listdir(tmp_path)) == ["in", "link"]


def test_batch_score_job_takes_the_arrow_path_for_files_unless_told(spark, mlp, tmp_path):
    from tests.unit.test_job_flags import load_job

    model, keras_path, _ = mlp
    table = examples.features_table(200, (8,), seed=9, column="x")
    data = examples.write_parquet(table, tmp_path / "in", files=2)
    job = load_job("batch_score")
    common = ["--model", keras_path, "--input", data, "--keep", "id", "--outputs", "output_0=score"]
    auto = job.main([*common, "--output", str(tmp_path / "auto")])
    forced = job.main([*common, "--output", str(tmp_path / "spark"), "--engine", "spark"])
    repartitioned = job.main([*common, "--output", str(tmp_path / "parts"), "--partitions", "3"])
    assert (auto["engine"], forced["engine"], repartitioned["engine"]) == ("arrow", "spark", "spark")
    assert auto["rows"] == forced["rows"] == repartitioned["rows"] == 200
    for name in ("auto", "spark", "parts"):
        np.testing.assert_allclose(_scores(str(tmp_path / name))[1], _expected(model, table), rtol=1e-5, atol=1e-6)


def _bad_input(tmp_path, table):
    """Two good files and one whose row 7 has 5 values instead of 8."""
    data = tmp_path / "bad_in"
    data.mkdir()
    pq.write_table(table.slice(0, 100), data / "a.parquet")
    pq.write_table(table.slice(100, 100), data / "b.parquet")
    rows = table.slice(200, 20).to_pylist()
    rows[7]["x"] = rows[7]["x"][:5]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), data / "c.parquet")
    return data


def _snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_a_failed_job_leaves_no_output_and_keeps_an_old_one(spark, mlp, tmp_path):
    _, keras_path, _ = mlp
    table = examples.features_table(220, (8,), seed=6, column="x")
    data = _bad_input(tmp_path, table)
    with pytest.raises(TensorError, match=r"column 'x': rows have different lengths.*\[file .*c\.parquet, row 7 of "
                                          r"the file\]"):
        sparkdl.score_files(spark, keras_path, str(data), str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old"
    sparkdl.score_files(spark, keras_path, str(data / "a.parquet"), str(old), keep=["id"])
    before = _snapshot(old)
    with pytest.raises(TensorError, match=r"\[file .*c\.parquet, row 7 of the file \(id=207\)\]"):
        sparkdl.score_files(spark, keras_path, str(data), str(old), overwrite=True, keep=["id"])
    assert _snapshot(old) == before
