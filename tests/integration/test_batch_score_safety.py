"""jobs/batch_score.py never loses data and fails early with one line: same-location refusal, staged
overwrite, writable output, damaged models, row errors named by partition and key, odd column names."""
import os
import shutil
import signal
import subprocess
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkdl import _cli, examples
from tests import models
from tests.integration.sparkproc import ROOT, SPARK_HOME, spark_env
from tests.unit.test_job_flags import load_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    _, keras_path, saved_dir = models.save_both(models.mlp(8, 3), root / "mlp")
    data = examples.write_parquet(examples.features_table(60, (8,), seed=5), root / "input", files=2)
    return root, keras_path, saved_dir, data


def _run(argv, capsys):
    """Run the job in this process (the test's SparkSession); return (exit code, stderr lines)."""
    code = _cli.run(load_job("batch_score").main, [str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _listing(path):
    return sorted((p, os.path.getsize(os.path.join(path, p))) for p in os.listdir(path))


@pytest.mark.parametrize("spelling", ["same", "trailing_slash", "file_uri", "dot_dot", "inside"])
def test_input_and_output_at_one_location_is_refused_before_anything_runs(spark, setup, capsys, spelling):
    root, keras_path, _, data = setup
    before = _listing(data)
    output = {"same": data, "trailing_slash": f"{data}/", "file_uri": f"file://{data}",
              "dot_dot": f"{root}/input/../input", "inside": f"{data}/scored"}[spelling]
    code, err = _run(["--model", keras_path, "--input", data, "--output", output, "--overwrite"], capsys)
    assert code == 2 and len(err) >= 1
    assert err[-1].startswith(f"ConfigError: --output {output!r} and --input {data!r} are the same location or one "
                              f"holds the other"), err[-1]
    assert "write the output to a path outside the input" in err[-1]
    assert _listing(data) == before


def test_overwrite_replaces_the_old_output_only_with_a_complete_one(spark, setup, capsys):
    root, keras_path, _, data = setup
    output = root / "replaced"
    output.mkdir()
    (output / "old.txt").write_text("previous scores")
    code, _ = _run(["--model", keras_path, "--input", data, "--output", output, "--overwrite", "--keep", "id"],
                   capsys)
    assert code == 0
    assert "old.txt" not in os.listdir(output) and pq.read_table(output).num_rows == 60
    assert not [name for name in os.listdir(root) if "sparkdl-" in name]  # no staging or old copy left


def test_unwritable_output_directory_is_refused_before_scoring(spark, setup, capsys):
    root, keras_path, _, data = setup
    (root / "a_file").write_text("x")
    code, err = _run(["--model", keras_path, "--input", data, "--output", root / "a_file" / "scored"], capsys)
    assert code == 2
    assert err[-1].startswith("StorageError: the directory of --output") and "is not writable" in err[-1], err
    assert (root / "a_file").read_text() == "x"


def test_damaged_saved_model_exits_2_with_the_fix(spark, setup, capsys):
    root, _, saved_dir, data = setup
    damaged = root / "damaged_savedmodel"
    shutil.copytree(saved_dir, damaged)
    (damaged / "saved_model.pb").write_bytes(b"\0not a protobuf" * 10)
    code, err = _run(["--model", damaged, "--input", data, "--output", root / "never"], capsys)
    assert code == 2
    assert err[-1].startswith(f"ModelFormatError: cannot read model '{damaged}': OSError:"), err[-1]
    assert "looks damaged or incomplete; save it again" in err[-1]
    assert not (root / "never").exists()


def test_column_names_with_dots_spaces_and_backticks(spark, setup, capsys):
    root, keras_path, _, _ = setup
    table = examples.features_table(20, (8,), seed=6)
    table = pa.table({"my id": table.column("id"), "feat.x": table.column("features"), "b`q": table.column("id")})
    data = examples.write_parquet(table, root / "odd_names")
    output = root / "odd_scored"
    code, err = _run(["--model", keras_path, "--input", data, "--output", output, "--inputs", "features=feat.x",
                      "--outputs", "output_0=p.score", "--keep", "my id,b`q"], capsys)
    assert code == 0, "\n".join(err)[-3000:]
    assert pq.read_table(output).column_names == ["my id", "b`q", "p.score"]


@pytest.mark.parametrize("engine", ["spark", "default"])
def test_failed_overwrite_keeps_the_old_output_and_names_the_bad_row(spark, setup, tmp_path, capsys, engine):
    """One null row among 200: exit 2 with one line, the old output intact, no staging left. The
    DataFrame path (--partitions) names the row by partition, position and --keep columns; the
    arrow path (default) by file, row of the file and --keep columns."""
    _, keras_path, _, _ = setup
    table = examples.features_table(200, (8,), seed=7)
    features = table.column("features").to_pylist()
    features[137] = None
    data = examples.write_parquet(table.set_column(1, "features", pa.array(features, table.schema[1].type)),
                                  tmp_path / "input")
    output = tmp_path / "scored"
    output.mkdir()
    (output / "old.txt").write_text("previous scores")
    extra = ["--partitions", "1"] if engine == "spark" else []
    code, err = _run(["--model", keras_path, "--input", data, "--output", output, "--overwrite", "--keep", "id",
                      "--batch-size", "16", *extra], capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("TensorError: column 'features': a row is null"), err
    if engine == "spark":
        assert err[0].endswith("[partition 0, row 137 of the partition (id=137)]"), err
    else:  # the arrow engine (score_files) names the file, the row in it and the --keep columns
        assert err[0].endswith(f"[file {data}/part-00000.parquet, row 137 of the file (id=137)]"), err
    assert os.listdir(output) == ["old.txt"] and (output / "old.txt").read_text() == "previous scores"
    assert sorted(os.listdir(tmp_path)) == ["input", "scored"]  # no staging directory left


def _python_workers(session: int) -> list:
    """Pids of pyspark's forked Python workers (children of pyspark.daemon) in process session `session`."""
    daemons, children = set(), {}
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit() or os.getsid(int(entry)) != session:
                continue
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            parent = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if b"pyspark.daemon" in cmdline:
            daemons.add(int(entry))
            children[int(entry)] = parent
    return [pid for pid, parent in children.items() if parent in daemons]


def test_python_worker_killed_mid_job_is_a_retried_task(setup, tmp_path):
    """--master local[2] has no retry count, so the job runs local[2,4]: a killed worker costs a task attempt."""
    root, keras_path, _, _ = setup
    data = examples.write_parquet(examples.features_table(4000, (8,), seed=8), tmp_path / "input", files=4)
    log = tmp_path / "job.log"  # appended to: the driver and the JVM write it through separate descriptors
    command = [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--master", "local[2]", "--conf",
               "spark.ui.enabled=false", "jobs/batch_score.py", "--model", keras_path, "--input", data, "--output",
               str(tmp_path / "scored"), "--keep", "id", "--batch-size", "8"]
    job = subprocess.Popen(command, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=spark_env(), cwd=ROOT,
                           start_new_session=True)
    try:
        deadline, killed = time.time() + 240, None
        while killed is None and time.time() < deadline and job.poll() is None:
            workers = _python_workers(job.pid)
            if workers:
                time.sleep(1.0)  # inside its first task: importing TensorFlow, loading the model
                os.kill(workers[0], signal.SIGKILL)
                killed = workers[0]
            time.sleep(0.1)
        assert job.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    text = log.read_text()
    assert killed and "running local[2,4]" in text and "Lost task" in text, text[-3000:]
    ids = pq.read_table(tmp_path / "scored").column("id").to_pylist()
    assert sorted(ids) == list(range(4000))
