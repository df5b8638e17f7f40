"""A spark-submit app for the multi-executor training test: sync training with plain SGD on a
standalone cluster, deleting one executor's shards right before chosen rounds.

argv: training Parquet path, the cluster's work dir, output .keras path, learning rate, batch
size, epochs, partitions, then the global rounds before which to delete. Before each of those
rounds the driver (on the same machine) removes every shard of this run from one executor (the
one that holds the most at the first deletion, the same one after), so that round's tasks there
find none. Prints JSON: the history and, per
deletion, the round, the executor directory and how many shards it lost.
"""
import json
import logging
import shutil
import sys
from pathlib import Path

from pyspark.sql import SparkSession

import sparkdl
from sparkdl.runtime.worker import LOG_FORMAT
from sparkdl.training import loop
from tests.integration import train_model


def delete_before(rounds, work_dir: Path, deleted: list):
    """Wrap TrainingRun.train_round: before each of `rounds`, delete one executor's shards of the run."""
    train_round = loop.TrainingRun.train_round

    def wrapped(self, global_round, start):
        if global_round in rounds:
            runs = list(work_dir.glob(f"work*/app-*/*/sparkdl-shards/{self.run_id}"))
            same = [run for run in runs if deleted and str(run.parents[1]) == deleted[0]["executor"]]
            victim = same[0] if same else max(runs, key=lambda run: len(list(run.glob("part-*"))))
            lost = len(list(victim.glob("part-*")))
            shutil.rmtree(victim)
            deleted.append({"round": global_round, "executor": str(victim.parents[1]), "shards": lost,
                            "executors": len(runs)})
        return train_round(self, global_round, start)

    loop.TrainingRun.train_round = wrapped


if __name__ == "__main__":
    import keras

    data, work, output, lr, batch, epochs, partitions, *rounds = sys.argv[1:]
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))  # names the module: "sparkdl.training.jobs: round ..."
    logging.getLogger("sparkdl").addHandler(handler)
    logging.getLogger("sparkdl").setLevel(logging.INFO)
    spark = SparkSession.builder.appName("train-cluster-shards").getOrCreate()
    deleted = []
    delete_before({int(r) for r in rounds}, Path(work), deleted)
    result = sparkdl.train(spark.read.parquet(data), train_model.build(), features="features", label="label",
                           loss="mse", optimizer=keras.optimizers.SGD(float(lr)), epochs=int(epochs),
                           batch_size=int(batch), mode="sync", partitions=int(partitions))
    result.save(output, spark)
    print(json.dumps({"history": result.history, "deleted": deleted}))
