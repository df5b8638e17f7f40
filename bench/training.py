"""Training benchmark, ONE run: samples/s and validation accuracy of single-process `model.fit`
against sparkdl.train `sync` and `average` on local[2], and `sync` on a 2-worker standalone cluster.

The MLP of the inference benchmark (64 -> 256 -> 256 -> 10) learns a generated target (the argmax
of a fixed random linear map of the features) from 200k rows, 2 epochs, same initial weights and
optimizer everywhere. Each distributed run follows a short warm-up run (Python workers started,
TensorFlow imported and the model traced on the executors: a one-time cost, reported as
warm_up_seconds), just as the single-process run starts in a process that imported TensorFlow.
Prints a table with the ratios to single-process training at the same global
batch; writes bench-output/training.json.

    python bench/training.py [--rows N] [--sync-batch 8192] [--average-batch 512] [--local-steps 25]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparkdl import examples  # noqa: E402
from sparkdl.tensors import tensor_to_column  # noqa: E402

OUT = ROOT / "bench-output"
CLASSES = 10


def make_data(rows: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 64)).astype(np.float32)
    w = np.random.default_rng(1234).normal(size=(64, CLASSES))
    return x, np.argmax(x @ w, axis=1).astype(np.float32)


def write(x, y, path: Path) -> str:
    table = pa.table({"features": tensor_to_column(x), "label": pa.array(y)})
    return examples.write_parquet(table, path, files=4)


def optimizer():
    import keras

    return keras.optimizers.Adam(0.003)


def model():
    from sparkdl.tf import example_models

    return example_models.mlp(64, CLASSES, seed=7)


def single_process(x, y, xv, yv, batch: int, epochs: int) -> dict:
    net = model()
    net.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    net.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = net.evaluate(xv, yv, batch_size=4096, verbose=0)[1]
    return {"samples_per_second": len(y) * epochs / seconds, "val_accuracy": accuracy, "seconds": seconds}


def distributed(spark, train_path, val_path, batch: int, epochs: int, mode: str, local_steps: int) -> dict:
    """samples/s of the training epochs, after a warm-up run on the validation rows has started the
    Python workers and imported TensorFlow there (a one-time cost per executor, reported apart)."""
    import sparkdl

    df, val = spark.read.parquet(train_path), spark.read.parquet(val_path)
    warm_up = time.perf_counter()
    sparkdl.train(val, model(), features="features", label="label", loss="sparse_categorical_crossentropy",
                  optimizer=optimizer(), epochs=1, batch_size=batch, mode=mode, local_steps=local_steps)
    warm_up = time.perf_counter() - warm_up
    started = time.perf_counter()
    result = sparkdl.train(df, model(), features="features", label="label", loss="sparse_categorical_crossentropy",
                           optimizer=optimizer(), epochs=epochs, batch_size=batch, mode=mode,
                           local_steps=local_steps, metrics=["accuracy"], validation_df=val)
    seconds = time.perf_counter() - started
    train_seconds = sum(h["seconds"] for h in result.history)
    return {"samples_per_second": sum(h["samples"] for h in result.history) / train_seconds,
            "val_accuracy": result.history[-1]["val_accuracy"], "seconds": seconds, "warm_up_seconds": warm_up,
            "rounds": sum(h["rounds"] for h in result.history)}


def on_cluster(args, train_path, val_path) -> dict:
    """sync on a 2-worker standalone cluster, through this script's --worker mode under spark-submit."""
    from tests.integration.sparkproc import spark_submit, standalone_cluster

    with tempfile.TemporaryDirectory(prefix="sparkdl-bench-cluster-") as work:
        with standalone_cluster(Path(work), workers=2, cores=1) as master:
            done = spark_submit(["--master", master, "--conf", "spark.driver.memory=4g", __file__, "--worker",
                                 train_path, val_path, str(args.sync_batch), str(args.epochs)], timeout=1800)
    if done.returncode != 0:
        raise RuntimeError((done.stdout + done.stderr)[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sync-batch", type=int, default=8192)
    parser.add_argument("--average-batch", type=int, default=512)
    parser.add_argument("--local-steps", type=int, default=25)
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from pyspark.sql import SparkSession

    if args.worker:  # running under spark-submit on the cluster
        train_path, val_path, batch, epochs = args.worker
        spark = SparkSession.builder.getOrCreate()
        print(json.dumps(distributed(spark, train_path, val_path, int(batch), int(epochs), "sync", 1)))
        return
    OUT.mkdir(exist_ok=True)
    x, y = make_data(args.rows, 0)
    xv, yv = make_data(args.rows // 10, 1)
    train_path = write(x, y, OUT / f"train-{args.rows}")
    val_path = write(xv, yv, OUT / f"val-{args.rows}")
    results = {
        f"single-process fit, batch {args.sync_batch}": single_process(x, y, xv, yv, args.sync_batch, args.epochs),
        f"single-process fit, batch {args.average_batch}": single_process(x, y, xv, yv, args.average_batch,
                                                                          args.epochs)}
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    results[f"sync local[2], batch {args.sync_batch}"] = distributed(spark, train_path, val_path, args.sync_batch,
                                                                    args.epochs, "sync", 1)
    results[f"average local[2], batch {args.average_batch} x {args.local_steps} steps"] = distributed(
        spark, train_path, val_path, args.average_batch, args.epochs, "average", args.local_steps)
    spark.stop()
    if not args.skip_cluster:
        results[f"sync 2-worker cluster, batch {args.sync_batch}"] = on_cluster(args, train_path, val_path)
    base = {"sync": results[f"single-process fit, batch {args.sync_batch}"],
            "average": results[f"single-process fit, batch {args.average_batch}"]}
    print(f"{'run':<48} {'samples/s':>10} {'val acc':>8} {'x single':>9} {'acc diff':>9} {'warm-up s':>9}")
    for name, r in results.items():
        ref = base["average"] if "average" in name or f"batch {args.average_batch}" in name else base["sync"]
        r["speed_ratio"] = r["samples_per_second"] / ref["samples_per_second"]
        r["accuracy_diff_points"] = 100 * (r["val_accuracy"] - ref["val_accuracy"])
        print(f"{name:<48} {r['samples_per_second']:>10.0f} {r['val_accuracy']:>8.4f} {r['speed_ratio']:>9.2f} "
              f"{r['accuracy_diff_points']:>+9.2f} {r.get('warm_up_seconds', 0):>9.1f}")
    (OUT / "training.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
