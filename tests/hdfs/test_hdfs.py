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
