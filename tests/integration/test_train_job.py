"""jobs/train.py through spark-submit: normal run, driver killed and resumed, executor killed."""
import importlib.util
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkdl import _cli
from sparkdl.jobs import train as train_job
from sparkdl.tensors import tensor_to_column
from tests.integration import train_model
from tests.integration.sparkproc import ROOT, SPARK_HOME, spark_env, spark_submit

pytestmark = pytest.mark.slow
ROWS, BATCH, EPOCHS, LR = 1000, 50, 2, 0.05  # 20 rounds an epoch: checkpoints every 5 leave room to kill


@pytest.fixture(scope="module")
def training_table(tmp_path_factory):
    """One Parquet file (one input partition), so the job trains in the file's row order."""
    root = tmp_path_factory.mktemp("train")
    x, y = train_model.data(ROWS)
    pq.write_table(pa.table({"features": tensor_to_column(x), "label": pa.array(y)}), root / "train.parquet")
    reference = train_model.build()
    import keras

    reference.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    reference.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return root, reference.get_weights()


def _args(root, output, checkpoint=None, extra=()):
    args = ["jobs/train.py", "--model-fn", str(ROOT / "tests/integration/train_model.py") + ":build",
            "--input", str(root / "train.parquet"), "--features", "features", "--label", "label", "--loss", "mse",
            "--optimizer", "sgd", "--learning-rate", str(LR), "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
            "--mode", "sync", "--partitions", "2", "--output", str(output), "--metrics", "mae", *extra]
    if checkpoint:
        args += ["--checkpoint-dir", f"file://{checkpoint}", "--checkpoint-every", "5"]
    return args


def _weights(path):
    import keras

    return keras.models.load_model(path, compile=False).get_weights()


def _assert_same(weights, reference):
    for ours, theirs in zip(weights, reference):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def test_train_job_equals_keras_and_logs_each_epoch(training_table, tmp_path):
    root, reference = training_table
    output = tmp_path / "model.keras"
    done = spark_submit(["--master", "local[2]", *_args(root, output)])
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert log.count("sparkdl.training.loop: epoch ") == EPOCHS and "samples/s" in log and "ETA" in log
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == EPOCHS and summary["final"]["samples"] == ROWS
    history = json.loads((tmp_path / "model.history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["loss"] < history[0]["loss"]
    _assert_same(_weights(output), reference)


def test_resume_flag_takes_the_values_of_train_resume():
    spec = importlib.util.spec_from_file_location("train_job", ROOT / "jobs" / "train.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    base = ["--model", "m.keras", "--input", "in", "--features", "f", "--label", "y", "--output", "out"]
    assert job.parse_args(base).resume is None
    assert {flag: job.RESUME[job.parse_args([*base, "--resume", flag]).resume] for flag in ("true", "false", "force")} \
        == {"true": True, "false": False, "force": "force"}


def _start(args, log_path, master="local[2]"):
    command = [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--master", master,
               "--conf", "spark.ui.enabled=false", *map(str, args)]
    return subprocess.Popen(command, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=spark_env(),
                            cwd=ROOT, start_new_session=True)


def _wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def _checkpoints(directory: Path):
    return sorted(p.name for p in directory.glob("ckpt-*")) if directory.exists() else []


def test_driver_killed_mid_run_resumes_from_the_last_checkpoint(spark, training_table, tmp_path, capsys):
    root, reference = training_table
    output, checkpoint = tmp_path / "model.keras", tmp_path / "ckpt"
    first = _start(_args(root, output, checkpoint), tmp_path / "first.log")
    try:
        _wait_for(lambda: len(_checkpoints(checkpoint)) >= 2 or first.poll() is not None, 300, "no checkpoints")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not output.exists(), "the job finished before it could be killed; the test proves nothing"
    # the refusal, run in this process (the job's main through _cli.run, as spark-submit runs it)
    code = _cli.run(train_job.main, [str(a) for a in _args(root, output, checkpoint, ["--batch-size", "25"])[1:]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err), err
    assert re.search(r"ConfigError: cannot resume from file://\S+/ckpt-\d+: this run's settings differ from the "
                     r"checkpoint's: batch_size: checkpoint 50, now 25\. .* resume='force'", err[-1]), err
    done = spark_submit(["--master", "local[2]", *_args(root, output, checkpoint)])
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "sparkdl.training.loop: resuming from file://" in log
    _assert_same(_weights(output), reference)


def _executor_pids(app_dirs):
    """Executors whose working directory lies in one of `app_dirs` (work<i>/app-*: one application's)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if "CoarseGrainedExecutorBackend" in cmdline and any(cwd.startswith(f"{app}/") for app in app_dirs):
            pids.append(int(proc.name))
    return pids


@pytest.mark.cluster
def test_executor_killed_mid_training_is_a_retried_task(training_table, shared_cluster, tmp_path):
    root, reference = training_table
    output, checkpoint = tmp_path / "model.keras", tmp_path / "ckpt"
    earlier = shared_cluster.apps()  # the applications that ran on the shared cluster before this one
    job = _start(_args(root, output, checkpoint), tmp_path / "job.log", master=shared_cluster.url)
    try:
        _wait_for(lambda: len(_checkpoints(checkpoint)) >= 1 or job.poll() is not None, 300, "no checkpoint")
        victims = _executor_pids(shared_cluster.apps() - earlier)
        assert len(victims) == 2, victims
        os.kill(victims[0], signal.SIGKILL)
        job.wait(timeout=600)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    log = (tmp_path / "job.log").read_text()
    assert job.returncode == 0, log[-3000:]
    assert "resuming from" not in log
    assert "Lost executor" in log or "lost executor" in log.lower() or "ExecutorLostFailure" in log
    _assert_same(_weights(output), reference)
