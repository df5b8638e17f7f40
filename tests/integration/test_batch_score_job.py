"""jobs/batch_score.py through spark-submit, local and on a standalone cluster; its bad-input exits in process."""
import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest

from sparkdl import _cli, examples
from tests import models
from tests.integration.sparkproc import spark_submit
from tests.unit.test_job_flags import load_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def job_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    model, keras_path, saved_dir = models.save_both(models.mlp(8, 3), root / "mlp")
    table = examples.features_table(500, (8,), seed=4, column="x")
    data = examples.write_parquet(table, root / "input", files=3)
    expected = model(np.stack(table.column("x").to_numpy(zero_copy_only=False))).numpy()
    return root, keras_path, saved_dir, data, expected


def _score(args, master="local[2]"):
    return spark_submit(["--master", master, "jobs/batch_score.py", *args])


def _run_here(argv, capsys):
    """The job in this process (the test's SparkSession); (exit code, stderr lines)."""
    try:
        code = _cli.run(load_job("batch_score").main, [str(a) for a in argv])
    except SystemExit as exit:  # argparse's own errors (usage + one line), as under spark-submit
        code = exit.code
    return code, capsys.readouterr().err.strip().splitlines()


def _check_output(output, expected, column="score"):
    table = pq.read_table(output).sort_by("id")
    assert table.num_rows == len(expected)
    np.testing.assert_allclose(np.stack(table.column(column).to_numpy(zero_copy_only=False)), expected,
                               rtol=1e-5, atol=1e-6)


def test_job_scores_a_parquet_table(job_inputs):
    root, _, saved_dir, data, expected = job_inputs
    output = root / "scored"
    done = _score(["--model", f"file://{saved_dir}", "--input", f"file://{data}", "--output", f"file://{output}",
                   "--outputs", "output_0=score", "--batch-size", "100", "--partitions", "4", "--keep", "id"])
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 500 and summary["rows_per_second"] > 0 and summary["output"] == f"file://{output}"
    _check_output(output, expected)
    assert pq.read_table(output).column_names == ["id", "score"]  # --keep id: the input tensor is not written


@pytest.mark.parametrize("case, message", [
    ("missing_input", "StorageError: --input '.*/nope' does not exist"),
    ("wrong_column", "SchemaError: model input 'features' float32\\[8\\] needs column 'features'"),
    ("missing_model", "ModelNotFoundError: cannot read model"),
    ("bad_batch_size", "argument --batch-size: expected a positive integer, got 0"),
])
def test_bad_input_exits_2_with_a_message_and_writes_nothing(spark, job_inputs, capsys, case, message):
    """In this process (the job's main through _cli.run, as spark-submit runs it): the exit code and
    the one stderr line come from _cli.run, the same with or without spark-submit around it."""
    root, keras_path, _, data, _ = job_inputs
    output = root / f"out_{case}"
    args = {"missing_input": ["--model", keras_path, "--input", str(root / "nope")],
            "wrong_column": ["--model", keras_path, "--input", data, "--inputs", "features=features"],
            "missing_model": ["--model", str(root / "none.keras"), "--input", data],
            "bad_batch_size": ["--model", keras_path, "--input", data, "--batch-size", "0"]}[case]
    code, err = _run_here([*args, "--output", str(output)], capsys)
    assert code == 2, err
    assert re.search(message, err[-1]) and "Traceback" not in "\n".join(err), err
    assert not output.exists()


def test_existing_output_is_refused_unless_overwrite(spark, job_inputs, capsys):
    root, keras_path, _, data, expected = job_inputs
    output = root / "existing"
    output.mkdir()
    (output / "keep.txt").write_text("user data")
    code, err = _run_here(["--model", keras_path, "--input", data, "--output", str(output)], capsys)
    assert code == 2 and "already exists; choose a new path or pass --overwrite" in err[-1], err
    assert (output / "keep.txt").read_text() == "user data"


@pytest.mark.cluster
def test_job_on_a_standalone_cluster_loads_the_model_once_per_executor(job_inputs, shared_cluster, tmp_path):
    root, keras_path, _, data, expected = job_inputs
    output = tmp_path / "scored"
    done = _score(["--model", keras_path, "--input", data, "--output", str(output), "--partitions", "6",
                   "--outputs", "output_0=score", "--batch-size", "64"], master=shared_cluster.url)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 500
    assert summary["model_loads"] == 2, summary  # 6 tasks on 2 single-core executors: one load each
    _check_output(output, expected)
