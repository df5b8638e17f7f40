"""spark-submit app, run with spark.hadoop.fs.defaultFS=hdfs://...: scheme-less paths are HDFS paths.

argv: local_model.keras workdir (scheme-less, e.g. /t123). Prints one JSON line of findings.
"""
import json
import os
import sys

import numpy as np
from pyspark.sql import SparkSession

import sparkdl
from sparkdl import fs
from sparkdl.errors import StorageError
from sparkdl.jobs import batch_score


def _batch_job(work: str, local_model: str) -> dict:
    summary = batch_score.main(["--model", f"{work}/models/m.keras", "--input", f"{work}/in",
                                "--output", f"{work}/out", "--engine", "auto"])
    try:  # claim_output finds the existing HDFS output (no --overwrite)
        batch_score.main(["--model", local_model, "--input", f"{work}/in", "--output", f"{work}/out"])
        refused = False
    except StorageError as error:
        refused = "already exists" in str(error)
    return {"job_rows": summary["rows"], "job_engine": summary["engine"], "job_refused_existing": refused}


def main(local_model, work):
    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    findings = {"qualified": fs.qualify(f"{work}/in", spark)}
    rows = [(i, np.full(8, i % 3, np.float32).tolist()) for i in range(40)]
    spark.createDataFrame(rows, "id long, features array<float>").write.parquet(f"{work}/in")
    fs.upload(local_model, f"{work}/models/m.keras", spark)
    findings["local_copy_exists"] = os.path.exists(f"{work}/models/m.keras")  # must not be on the driver's disk
    findings["model_on_hdfs"] = fs.exists(f"{work}/models/m.keras", spark)
    scored = sparkdl.predict(spark.read.parquet(f"{work}/in"), f"{work}/models/m.keras", keep=["id"])
    findings["predict_rows"] = scored.count()
    findings.update(_batch_job(work, local_model))
    result = sparkdl.train(spark.read.parquet(f"{work}/in").selectExpr("features", "cast(id % 3 as int) label"),
                           f"{work}/models/m.keras", features="features", label="label",
                           loss="sparse_categorical_crossentropy", batch_size=20, epochs=1,
                           checkpoint_dir=f"{work}/ckpt")
    findings["checkpoints"] = fs.listdir(f"{work}/ckpt", spark)
    findings["trained_rounds"] = len(result.history)
    fs.delete(f"{work}/out", spark)
    findings["deleted"] = not fs.exists(f"{work}/out", spark)
    print(json.dumps(findings))


if __name__ == "__main__":
    main(*sys.argv[1:])
