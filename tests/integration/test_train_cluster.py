"""sync training on a 2-executor standalone cluster equals single-process Keras SGD, also when one
executor's shards vanish between rounds (only the missing partitions are recomputed, and no
partition's rows are skipped)."""
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkdl.tensors import tensor_to_column
from tests.integration import train_model
from tests.integration.sparkproc import ROOT, spark_submit

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
ROWS, BATCH, EPOCHS, LR, PARTITIONS = 400, 100, 2, 0.05, 4
DELETE_BEFORE = (2, 6)  # global rounds: one in each epoch (4 rounds per epoch)


def _keras_weights(x, y):
    import keras

    reference = train_model.build()
    reference.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    reference.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return reference.get_weights()


def test_sync_on_two_executors_with_lost_shards_equals_keras(shared_cluster, tmp_path):
    import keras

    x, y = train_model.data(ROWS, seed=3)
    pq.write_table(pa.table({"features": tensor_to_column(x), "label": pa.array(y)}), tmp_path / "train.parquet")
    output = tmp_path / "model.keras"
    done = spark_submit(["--master", shared_cluster.url, "--conf", "spark.cores.max=2",
                         "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                         "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=60s",
                         str(ROOT / "tests/integration/train_cluster_app.py"), tmp_path / "train.parquet",
                         shared_cluster.work_dir, output, LR, BATCH, EPOCHS, PARTITIONS, *DELETE_BEFORE], timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [d["round"] for d in report["deleted"]] == list(DELETE_BEFORE), report
    assert all(d["shards"] > 0 and d["executors"] == 2 for d in report["deleted"]), report
    assert [h["samples"] for h in report["history"]] == [ROWS] * EPOCHS, report["history"]
    recomputed = [int(r) for r in re.findall(r"sparkdl.training.jobs: round (\d+): partition\(s\)", log)]
    assert set(DELETE_BEFORE) <= set(recomputed), recomputed
    ours = keras.models.load_model(output, compile=False).get_weights()
    for mine, theirs in zip(ours, _keras_weights(x, y)):
        np.testing.assert_allclose(mine, theirs, rtol=2e-4, atol=2e-5)
    print(f"rounds that recomputed partitions: {recomputed}; deletions: {report['deleted']}")
