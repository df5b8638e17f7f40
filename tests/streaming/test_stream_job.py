"""jobs/stream_score.py through spark-submit on a real Apache Kafka broker: the driver is SIGKILLed
mid-stream twice, then drained, with sparkdl's Kafka source and with Spark's own connector."""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests import models
from tests.integration.sparkproc import ROOT, SPARK_HOME, spark_env, spark_submit
from tests.services.jars import connector_jars
from tests.streaming.broker import create_topic, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOTAL = 320  # 8 triggers of 40: two runs killed after 2 batches each still leave some for the drain


def _command(kafka, topic, model, out, ckpt, extra=()):
    return ["jobs/stream_score.py", "--model", model, "--kafka-bootstrap", kafka, "--input-topic", topic,
            "--output-path", str(out), "--checkpoint", str(ckpt), "--schema", "id long, features array<float>",
            "--trigger", "500 milliseconds", "--max-records-per-trigger", "40", *extra]


def _batches(out: Path) -> int:
    return len(list(out.glob("batch_id=*"))) if out.exists() else 0


# sparkdl's own source is killed twice; Spark's connector, whose offsets Spark itself checkpoints,
# once (it runs the same resume path; a second kill would add a minute of JVM starts, not a case)
@pytest.mark.parametrize("connector, kills", [(False, 2), (True, 1)], ids=["sparkdl-source", "spark-connector"])
def test_driver_killed_twice_mid_stream_loses_and_duplicates_nothing(spark, kafka, tmp_path, connector, kills):
    _, keras_path, _ = models.save_both(models.mlp(8, 3, seed=12), tmp_path / "m")
    topic = f"kill-{time.time_ns()}"
    create_topic(kafka, topic, partitions=2)
    messages = [(str(i).encode(), {"id": i, "features": [float(i % 7)] * 8}) for i in range(TOTAL)]
    producer = threading.Thread(target=lambda: [produce(kafka, topic, messages[i:i + 50]) or time.sleep(0.3)
                                                for i in range(0, TOTAL, 50)])
    producer.start()
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    jars = ["--jars", connector_jars()] if connector else []
    for attempt in range(kills):
        seen = _batches(out)
        job = subprocess.Popen([os.path.join(SPARK_HOME, "bin", "spark-submit"), "--master", "local[2]",
                                "--conf", "spark.ui.enabled=false", *jars,
                                *_command(kafka, topic, keras_path, out, ckpt)],
                               stdout=open(tmp_path / f"run{attempt}.log", "w"), stderr=subprocess.STDOUT,
                               env=spark_env(), cwd=ROOT, start_new_session=True)
        deadline = time.time() + 180
        while _batches(out) < seen + 2 and time.time() < deadline and job.poll() is None:
            time.sleep(0.2)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        assert _batches(out) >= seen + 2, (tmp_path / f"run{attempt}.log").read_text()[-3000:]
    producer.join()
    done = spark_submit(["--master", "local[2]", *jars,
                         *_command(kafka, topic, keras_path, out, ckpt, ["--available-now"])])
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    source = json.loads(done.stdout.strip().splitlines()[-1])["source"]
    assert source.startswith("KafkaV2") == connector, source  # Spark's connector only when it is on --jars
    ids = [r.id for r in spark.read.parquet(str(out)).select("id").collect()]
    assert len(ids) == TOTAL and sorted(ids) == list(range(TOTAL)), (done.stdout + done.stderr)[-4000:]
