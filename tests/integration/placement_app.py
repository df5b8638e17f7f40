"""A spark-submit app for the placement test: prints, as JSON, where each task ran its model.

Each task records its Spark GPU address and the TensorFlow device sparkdl chose for it, and sleeps
so that tasks overlap; then a DataFrame is scored with sparkdl.predict and trained on with
sparkdl.train, to show both work under GPU scheduling (TensorFlow falls back to the CPU where the
GPU is only simulated). Training tasks log the device they were given to the executors' stderr.
"""
import json
import sys
import time

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import SparkSession

import sparkdl
from sparkdl.runtime.worker import current_placement


def record(batches):
    started = time.time()
    for _ in batches:
        pass
    placement = current_placement()
    time.sleep(1.5)
    context = TaskContext.get()
    yield pa.RecordBatch.from_pydict({
        "partition": [context.partitionId()], "gpu": [placement.gpu], "device": [placement.device],
        "threads": [placement.threads], "start": [started], "end": [time.time()],
        "executor": [context.getLocalProperty("spark.executor.id") or ""],
    })


if __name__ == "__main__":
    model_path = sys.argv[1]
    spark = SparkSession.builder.appName("placement-probe").getOrCreate()
    df = spark.range(0, 8, numPartitions=8)
    rows = df.mapInArrow(record, "partition long, gpu string, device string, threads long, start double, "
                                 "end double, executor string").collect()
    features = spark.range(0, 64, numPartitions=4).selectExpr("id", "array_repeat(cast(id as float), 8) AS features")
    scored = sparkdl.predict(features, model_path).count()
    labelled = features.selectExpr("features", "cast(id % 2 AS double) AS label")
    result = sparkdl.train(labelled, model_path, features="features", label="label", partitions=4,
                           loss="sparse_categorical_crossentropy", batch_size=16, epochs=1)
    print(json.dumps({"tasks": [r.asDict() for r in rows], "scored": scored,
                      "trained": result.history[-1]["samples"]}))
