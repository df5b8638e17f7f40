"""A fast subset of the suite under pyspark 3.5 (the Scala 2.12 wheel), the Spark of EMR 7.x and of
Databricks 14.3-15.4 LTS: in a subprocess whose PYTHONPATH puts pyspark 3.5 ahead of the venv's 4.x.

pyspark 3.5 is installed once per machine into .cache/compat/ (git-ignored) with
`pip install --target`, and reused by later runs.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.sparkproc import _kill_group

pytestmark = [pytest.mark.compat, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PYSPARK = "3.5.9"  # the latest 3.5 patch on PyPI
PY4J = "0.10.9.7"  # what pyspark 3.5 requires
TARGET = ROOT / ".cache" / "compat" / f"pyspark-{PYSPARK}"
SUBSET = [
    # the unit tests that touch pyspark's API (the rest are pure TensorFlow/pyarrow, as on 4.x)
    "tests/unit/test_ml_params.py", "tests/unit/test_job_flags.py", "tests/unit/test_kafka_patterns.py",
    "tests/unit/test_imports.py", "tests/unit/test_config.py", "tests/unit/test_train_fail_early.py",
    "tests/unit/test_file_scoring.py",
    "tests/spark/test_predict.py::test_mlp_predictions_equal_keras",  # .keras and SavedModel
    "tests/spark/test_ml_and_sql.py::test_pipeline_with_transformer_saves_and_loads_self_contained",
    "tests/spark/test_train.py::test_sync_equals_single_process_keras[regression]",  # sync, 2 epochs
    "tests/streaming/test_score_stream.py::test_file_directory_source",
    # the batch job from the installed package path, through the 3.5 wheel's spark-submit
    "tests/compat/test_install.py::test_spark_submit_runs_the_installed_job_file_and_stdout_is_the_summary",
]


def pyspark_35() -> Path:
    """The directory holding pyspark 3.5 and its py4j, installed on first use (atomically: by rename)."""
    if not TARGET.is_dir():
        staging = TARGET.with_name(f".{TARGET.name}-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(staging),
                        f"pyspark=={PYSPARK}", f"py4j=={PY4J}"], check=True, timeout=900)
        try:
            staging.rename(TARGET)
        except OSError:  # another run installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return TARGET


def test_the_fast_subset_passes_on_pyspark_35():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(pyspark_35()), str(ROOT),
                                                                       os.environ.get("PYTHONPATH")])))
    version = subprocess.run([sys.executable, "-c", "import pyspark; print(pyspark.__version__)"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == PYSPARK
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not compat and not connect",
                            *SUBSET], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    try:
        output, _ = run.communicate(timeout=850)
    finally:
        _kill_group(run)  # its Spark JVMs and Python workers too, whatever happened
    assert run.returncode == 0, f"pyspark {PYSPARK}:\n{output[-6000:]}"
    print(output.strip().splitlines()[-1])
