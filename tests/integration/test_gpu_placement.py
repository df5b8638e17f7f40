"""GPU placement under Spark's GPU scheduling, simulated on CPU with a resource discovery script."""
import json
import re

import pytest

from tests import models
from tests.integration.sparkproc import ROOT, spark_submit, standalone_cluster

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def test_each_concurrent_task_gets_its_own_gpu(tmp_path):
    script = tmp_path / "gpus.sh"
    script.write_text('#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0", "1"]}\'\n')
    script.chmod(0o755)
    _, keras_path, _ = models.save_both(models.mlp(8, 2), tmp_path / "m")
    worker_opts = f"-Dspark.worker.resource.gpu.amount=2 -Dspark.worker.resource.gpu.discoveryScript={script}"
    with standalone_cluster(tmp_path, workers=1, cores=2, worker_opts=worker_opts) as master:
        done = spark_submit(["--master", master, "--conf", "spark.executor.cores=2",
                             "--conf", "spark.executor.resource.gpu.amount=2",
                             "--conf", "spark.task.resource.gpu.amount=1",
                             "--conf", f"spark.executor.resource.gpu.discoveryScript={script}",
                             str(ROOT / "tests/integration/placement_app.py"), keras_path])
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    tasks = result["tasks"]
    assert result["scored"] == 64 and result["trained"] == 64 and len(tasks) == 8
    assert all(t["device"] == f"/GPU:{t['gpu']}" and t["threads"] == 1 for t in tasks)
    assert {t["gpu"] for t in tasks} == {"0", "1"}
    overlapping = [(a, b) for a in tasks for b in tasks
                   if a["partition"] < b["partition"] and a["start"] < b["end"] and b["start"] < a["end"]]
    assert overlapping, "tasks never ran at the same time; the test proves nothing"
    assert all(a["gpu"] != b["gpu"] for a, b in overlapping)
    training = re.findall(r"sparkdl.training.executor: training model \w+ on (\S+) with (\d+) thread",
                          _executor_logs(tmp_path))
    assert {device for device, _ in training} == {"/GPU:0", "/GPU:1"}, training
    assert {threads for _, threads in training} == {"1"}


def _executor_logs(work_dir) -> str:
    return "".join(path.read_text(errors="replace") for path in work_dir.glob("work*/app-*/*/stderr"))
