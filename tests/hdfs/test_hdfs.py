"""sparkdl against a real HDFS (NameNode + DataNode from the Apache Hadoop jars)."""
import json
import time

import pytest

from sparkdl import fs
from tests import models
from tests.integration.sparkproc import spark_submit

pytestmark = [pytest.mark.hdfs, pytest.mark.slow]


@pytest.fixture(scope="module")
def keras_path(tmp_path_factory):
    return models.save_both(models.mlp(8, 3, seed=12), tmp_path_factory.mktemp("hdfs") / "mlp")[1]


def test_scheme_less_paths_resolve_against_default_fs(hdfs, keras_path, tmp_path):
    """With fs.defaultFS=hdfs://..., /work/... is an HDFS path for every driver-side step: existence checks,
    claim_output, uploads, predict's model read, the batch job, training checkpoints, cleanup."""
    work = f"/t{time.time_ns()}"
    done = spark_submit(["--master", "local[2]", "--conf", f"spark.hadoop.fs.defaultFS={hdfs.uri}",
                         "tests/hdfs/defaultfs_app.py", keras_path, work], timeout=400)
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["qualified"] == f"{hdfs.uri}{work}/in"
    assert found["model_on_hdfs"] and not found["local_copy_exists"]
    assert found["predict_rows"] == 40
    assert found["job_rows"] == 40 and found["job_engine"] == "spark" and found["job_refused_existing"]
    assert found["checkpoints"] and all(name.startswith("ckpt-") for name in found["checkpoints"]), found
    assert found["deleted"]


def test_webhdfs_without_a_session_reads_and_writes(hdfs, keras_path, monkeypatch, tmp_path):
    import keras

    from sparkdl.training.result import TrainResult

    monkeypatch.setenv("SPARKDL_WEBHDFS_URL", hdfs.webhdfs)
    base = f"{hdfs.uri}/webhdfs-{time.time_ns()}"
    saved = TrainResult(model=keras.models.load_model(keras_path), history=[{"loss": 1.0}]).save(f"{base}/run")
    assert saved == f"{base}/run/model.keras"
    assert fs.listdir(f"{base}/run") == ["model.history.json", "model.keras"]
    assert json.loads(fs.read_text(f"{base}/run/model.history.json")) == [{"loss": 1.0}]
    local = fs.localize(saved)
    assert keras.models.load_model(local).count_params() == keras.models.load_model(keras_path).count_params()
    assert len(fs.stamp(f"{base}/run")) == 2
    fs.rename(f"{base}/run", f"{base}/moved")
    assert not fs.exists(f"{base}/run") and fs.exists(f"{base}/moved/model.keras")
    fs.check_writable(f"{base}/fresh/dir", "checkpoint_location")
    assert not fs.exists(f"{base}/fresh")  # the check leaves no directory it made
    fs.delete(base)
    assert not fs.exists(base)


def test_score_files_reads_and_writes_hdfs_with_pyarrow(spark, hdfs, keras_path, monkeypatch, tmp_path):
    """score_files on hdfs: URIs without libhdfs: WebHDFS, with SPARKDL_WEBHDFS_URL set on the driver only
    (the Python workers were started before it was set), output committed with _SUCCESS."""
    import keras
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import sparkdl
    from sparkdl.errors import StorageError
    from sparkdl.inference.arrow_fs import resolve

    monkeypatch.setenv("SPARKDL_WEBHDFS_URL", hdfs.webhdfs)
    x = np.random.default_rng(5).normal(size=(300, 8)).astype(np.float32)
    (tmp_path / "in").mkdir()
    for i in range(3):
        rows = slice(i * 100, (i + 1) * 100)
        table = pa.table({"id": np.arange(300)[rows], "features": pa.array(list(x[rows]), pa.list_(pa.float32()))})
        pq.write_table(table, tmp_path / "in" / f"part-{i}.parquet")
    base = f"{hdfs.uri}/score-files-{time.time_ns()}"
    fs.upload(str(tmp_path / "in"), f"{base}/in")
    summary = sparkdl.score_files(spark, keras_path, f"{base}/in", f"{base}/out", keep=["id"])
    assert summary["rows"] == 300 and summary["input_files"] == 3, summary
    assert "_SUCCESS" in fs.listdir(f"{base}/out") and "_temporary" not in fs.listdir(f"{base}/out")
    filesystem, path = resolve(f"{base}/out")
    table = pq.read_table(path, filesystem=filesystem).sort_by("id")
    assert table.column("id").to_pylist() == list(range(300))
    scores = np.stack(table.column(table.column_names[-1]).to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(scores, keras.models.load_model(keras_path)(x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(StorageError, match="already exists"):  # refused before any Spark job; output untouched
        sparkdl.score_files(spark, keras_path, f"{base}/in", f"{base}/out")
    assert len(pq.read_table(path, filesystem=filesystem)) == 300
    fs.delete(base)
