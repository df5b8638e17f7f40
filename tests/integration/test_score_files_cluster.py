"""score_files (batch_score --engine arrow) on a standalone cluster: a Python worker killed mid-task."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sparkdl import examples
from tests import models
from tests.integration.sparkproc import ROOT, SPARK_HOME, spark_env

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
ROWS = 12_000


def _processes() -> dict:
    """pid -> (parent pid, command line) of the processes visible in /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                table[int(entry.name)] = (parent, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):
                continue
    return table


def _python_workers(root: int) -> list:
    """Python workers forked by a pyspark.daemon below process `root` (only what this test started)."""
    table, below, todo = _processes(), set(), [root]
    while todo:
        children = [pid for pid, (parent, _) in table.items() if parent == todo[-1]]
        todo.pop()
        below.update(children)
        todo.extend(children)
    daemons = {pid for pid in below if "pyspark.daemon" in table[pid][1]}
    return [pid for pid in daemons if table[pid][0] in daemons]


def _kill_python_workers_mid_task(output: Path, job: subprocess.Popen, timeout: float = 150) -> int:
    """When a task attempt has started writing, SIGKILL the Python workers; return how many."""
    deadline = time.time() + timeout
    while time.time() < deadline and job.poll() is None:
        if list(output.glob("_temporary/*/_attempt_*")):
            workers = _python_workers(os.getpid())
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            return len(workers)
        time.sleep(0.02)
    return 0


def test_a_python_worker_killed_mid_task_is_retried_and_each_row_is_written_once(shared_cluster, tmp_path):
    model, keras_path, _ = models.save_both(models.mlp(8, 3), tmp_path / "mlp")
    table = examples.features_table(ROWS, (8,), seed=11, column="x")
    data = examples.write_parquet(table, tmp_path / "in", files=4)
    output = tmp_path / "scored"
    log = open(tmp_path / "job.log", "w")
    # one single-core executor (spark.cores.max=1) on the package's shared cluster
    job = subprocess.Popen(
        [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--conf", "spark.ui.enabled=false", "--master",
         shared_cluster.url, "--conf", "spark.cores.max=1", "jobs/batch_score.py", "--model", keras_path, "--input",
         data, "--output", str(output), "--engine", "arrow", "--keep", "id", "--outputs", "output_0=score",
         "--batch-size", "2"],
        stdout=subprocess.PIPE, stderr=log, text=True, env=spark_env(), cwd=ROOT, start_new_session=True)
    try:
        killed = _kill_python_workers_mid_task(output, job)
        stdout, _ = job.communicate(timeout=240)
    finally:
        if job.poll() is None:  # the driver and its Python process, whatever happened
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert killed >= 1, "no task attempt was seen running"
    assert job.returncode == 0, (tmp_path / "job.log").read_text()[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["engine"] == "arrow" and summary["rows"] == ROWS and summary["retried_tasks"] >= 1, summary
    scored = pq.read_table(output).sort_by("id")
    np.testing.assert_array_equal(scored.column("id").to_numpy(), np.arange(ROWS))  # each row exactly once
    expected = model(np.stack(table.column("x").to_numpy(zero_copy_only=False))).numpy()
    np.testing.assert_allclose(np.stack(scored.column("score").to_numpy(zero_copy_only=False)), expected,
                               rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in output.iterdir() if not p.name.startswith("part-")) == ["_SUCCESS"]
