"""What `pip install sparkdl-tf` gets: the jobs as console scripts and as files spark-submit runs from
the installed package, no pyspark requirement that would replace a cluster's, stdout = the summary."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from sparkdl import examples
from tests import models
from tests.integration.sparkproc import ROOT, SPARK_HOME, spark_env

SCRIPTS = {"sparkdl-batch-score", "sparkdl-train", "sparkdl-stream-score"}


def _metadata(wheel, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return next(archive.read(n).decode() for n in archive.namelist() if n.endswith(f".dist-info/{name}"))


def test_the_wheel_carries_the_jobs_and_leaves_spark_to_the_cluster(tmp_path):
    source = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info/ into the tree it builds
    shutil.copytree(ROOT / "sparkdl", source / "sparkdl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(source)], check=True, timeout=300, cwd=tmp_path)
    wheel = next(tmp_path.glob("sparkdl_tf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"sparkdl/jobs/{job}.py" for job in ("batch_score", "train", "stream_score")} <= set(names)
    scripts = dict(line.split(" = ") for line in _metadata(wheel, "entry_points.txt").splitlines() if " = " in line)
    assert set(scripts) == SCRIPTS
    for target in scripts.values():  # each entry point imports and is callable
        module, function = target.split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function))
    requires = [line for line in _metadata(wheel, "METADATA").splitlines() if line.startswith("Requires-Dist:")]
    assert "Name: sparkdl-tf" in _metadata(wheel, "METADATA")
    assert not [r for r in requires if "pyspark" in r and "extra ==" not in r], requires


@pytest.mark.slow
def test_spark_submit_runs_the_installed_job_file_and_stdout_is_the_summary(tmp_path):
    model, keras_path, _ = models.save_both(models.mlp(8, 3), tmp_path / "mlp")
    data = examples.write_parquet(examples.features_table(60, (8,), seed=2, column="x"), tmp_path / "in", files=2)
    job = subprocess.run([sys.executable, "-m", "sparkdl.jobs", "batch_score"], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=spark_env()).stdout.strip()
    assert job == str(ROOT / "sparkdl" / "jobs" / "batch_score.py")
    env = spark_env()
    env.pop("TF_CPP_MIN_LOG_LEVEL")  # what a user's shell has: TensorFlow's default logging
    done = subprocess.run([os.path.join(SPARK_HOME, "bin", "spark-submit"), "--master", "local[2]", "--conf",
                           "spark.ui.enabled=false", job, "--model", keras_path, "--input", str(data), "--output",
                           str(tmp_path / "out"), "--keep", "id"], capture_output=True, text=True, timeout=600,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["rows"] == 60, done.stdout[-3000:]
