"""Inference benchmark: rows/s of three scorers over the same Parquet data, measured in ONE run.

  (a) single-process TensorFlow over a pyarrow Parquet read (all cores; the limit on this machine)
  (b) Spark's pyspark.ml.functions.predict_batch_udf, Parquet -> Parquet, with the predict function
      Spark's docs show (model.predict); (b') the same with a compiled call, for reference
  (c) sparkdl.predict with its defaults (each worker measures its fastest rows per call),
      Parquet -> Parquet; (c 1024) the same with batch_size=1024, the size (b) uses
  (c bin) CNN only: sparkdl.predict over the same images stored as raw float32 bytes (a binary
      column), the layout sparkdl reads without per-value work in the JVM or Python
  (b id) CNN only: (b) writing only id and prediction, not the input images
  (c keep) sparkdl.predict(..., keep=["id"]): writes id and prediction
  (f) sparkdl.score_files(..., keep=["id"]): Spark schedules one task per split, each reads its
      Parquet with pyarrow, scores and writes id + prediction with pyarrow (no rows in the JVM);
      (f no prefetch) the same with prefetch=0 (no reader thread), to measure the read-ahead;
      (f fixed) the same with batch_size fixed at the model's fastest call size on one thread here
      (MLP 4,096, CNN 256): f/f_fixed is what the workers' call-size search costs or gains
  (ray, daft) the peers, without Spark: Ray Data and Daft reading the same Parquet, scoring with the
      same compiled model call as (a) in actors that load the model once, writing id + prediction
      (bench/peers.py; optional: `pip install -e '.[bench]'`, else they are skipped with a message);
      (one actor with two TensorFlow threads); daft_inproc: Daft's class UDF in this process (on Daft's
      threads, the fastest Daft setup here); ray_2x1 / daft_2x1: two actors with one thread each;
      "warm-up s": the seconds of their untimed run over the warm-up sample, mostly actor start

Models and data are generated here: MLP 64 -> 256 -> 256 -> 10 over 1M rows, and CNN
32x32x3 -> conv32 -> pool -> conv64 -> pool -> 128 -> 10 over 100k rows (a flat array<float> of
3072 per row, reshaped by each scorer).

Each Spark scorer runs in a fresh local[2] session after an untimed warm-up that writes a small
sample (--warm-rows, default 4000) through it in two tasks, so both Python workers have loaded the
model and the JVM has compiled the read, convert and write paths. sparkdl's workers measure their
call size on their first real calls (at least 0.2 s of CPU at each size tried: on the MLP, a few
hundred thousand rows per worker), so with the default warm-up that search runs inside the timed
run; --warm-rows 400000 moves it out. Absolute speed drifts on a shared machine, so the scorers run
in rounds (a, b, c, ... then again) and the table shows each one's median over the
rounds; a ratio is the median of the per-round ratios (scorers of one round ran minutes apart).
Peak memory: the summed peak RSS (VmHWM) of a Spark scorer's Python workers, read before its
session stops; for (a), this process's peak RSS after (a) (its first round: no Spark yet).
Writes every round to bench-output/inference.json.

    python bench/inference.py [--mlp-rows N] [--cnn-rows N] [--rounds N] [--models mlp,cnn] [--skip-tuned]
                              [--only f,c_keep,ray,daft,...]  (a subset of the scorers; (a), alias l0, always runs)
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import peers  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from sparkdl import examples  # noqa: E402
from sparkdl.tensors import column_to_tensor, tensor_to_binary_column  # noqa: E402

OUT = Path("bench-output")
BATCH = 1024
FIXED_CALL = {"mlp": 4096, "cnn": 256}  # (f fixed): fastest rows per call on one TF thread, measured here


def build(kind: str, rows: int, binary: bool = False):
    """Save the model and write its data once; return (model path, data path, input shape)."""
    from sparkdl.tf import example_models

    shape = (64,) if kind == "mlp" else (32, 32, 3)
    model_path = OUT / f"{kind}.keras"
    data_path = OUT / f"{kind}-{'binary-' if binary else ''}{rows}"
    if not model_path.exists():
        (example_models.mlp() if kind == "mlp" else example_models.cnn()).save(model_path)
    flat = (int(np.prod(shape)),)
    if not data_path.exists():
        chunk = 100_000
        for start in range(0, rows, chunk):  # bounded memory for large inputs
            n = min(chunk, rows - start)
            table = examples.features_table(n, flat, seed=start, column="features")
            if binary:
                values = column_to_tensor(table.column("features"), "features", np.float32, flat)
                table = table.set_column(1, "features", tensor_to_binary_column(values))
            examples.write_parquet(table, data_path, files=2, prefix=f"chunk{start // chunk:03d}")
    return str(model_path.resolve()), str(data_path.resolve()), shape


def single_process(model_path: str, data_path: str, shape) -> float:
    """(a) pyarrow read + compiled TF calls in this process; returns rows/s."""
    from sparkdl.tf.model_io import KERAS, load_model

    model = load_model(model_path, KERAS)
    rows, started = 0, time.perf_counter()
    for path in sorted(Path(data_path).rglob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH * 8, columns=["features"]):
            x = column_to_tensor(batch.column(0), "features", np.float32, shape)
            for start in range(0, len(x), BATCH):
                model({model.signature.inputs[0].name: x[start:start + BATCH]})
            rows += len(x)
    return rows / (time.perf_counter() - started)


def batch_udf_scorer(model_path: str, shape, tuned: bool):
    """(b) predict_batch_udf; the docs' predict fn calls model.predict, the tuned one a tf.function."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    def make_predict_fn():
        import tensorflow as tf

        model = tf.keras.models.load_model(model_path, compile=False)
        if tuned:
            call = tf.function(lambda x: model(x, training=False))
            return lambda inputs: call(inputs).numpy()
        return lambda inputs: model.predict(inputs, batch_size=BATCH, verbose=0)

    return predict_batch_udf(make_predict_fn, return_type=ArrayType(FloatType()), batch_size=BATCH,
                             input_tensor_shapes=[list(shape)])


class Files:
    """(f) sparkdl.score_files from Parquet to Parquet, writing id + prediction."""

    def __init__(self, model_path: str, **options):
        self.model_path, self.options = model_path, options

    def __call__(self, spark, data_path: str, output) -> dict:
        import sparkdl

        return sparkdl.score_files(spark, self.model_path, data_path, str(output), keep=["id"], overwrite=True,
                                   **self.options)


def worker_peak_mb() -> float:
    """Summed peak RSS (VmHWM) of the pyspark.daemon processes (Python workers) below this process."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                parent = int(status.split("PPid:")[1].split()[0])
                children.setdefault(parent, []).append((int(entry.name), status))
            except (OSError, IndexError):
                continue
    total, todo = 0, [os.getpid()]
    while todo:
        for pid, status in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"pyspark.daemon" in command and "VmHWM:" in status:
                total += int(status.split("VmHWM:")[1].split()[0])
    return total / 1024


def spark_run(spark, score, data_path: str, label: str) -> float:
    """Read Parquet, score with `score(df)` (or run a Files scorer), write Parquet; returns rows/s."""
    output = OUT / f"scored-{label}"
    shutil.rmtree(output, ignore_errors=True)
    if isinstance(score, Files):
        started = time.perf_counter()
        rows = score(spark, data_path, output)["rows"]
        seconds = time.perf_counter() - started
        shutil.rmtree(output, ignore_errors=True)
        return rows / seconds
    df = spark.read.parquet(data_path)
    started = time.perf_counter()
    score(df).write.parquet(str(output))
    seconds = time.perf_counter() - started
    rows = spark.read.parquet(str(output)).count()
    shutil.rmtree(output, ignore_errors=True)
    return rows / seconds


def new_session():
    """A fresh local[2] session: each scorer gets its own Python workers, so neither inherits the
    other's TensorFlow settings (TensorFlow fixes its thread pools at first use in a process)."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("sparkdl-bench-inference")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "6g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def scorers(kind: str, rows: int, tuned: bool, only=None) -> dict:
    """label -> (data path, function building the scored DataFrame, or a Files scorer)."""
    import sparkdl

    model_path, data_path, shape = build(kind, rows)
    udf = batch_udf_scorer(model_path, shape, tuned=False)
    chosen = {"b": (data_path, lambda df: df.withColumn("prediction", udf("features"))),
              "c": (data_path, lambda df: sparkdl.predict(df, model_path)),
              "c_1024": (data_path, lambda df: sparkdl.predict(df, model_path, batch_size=BATCH)),
              "c_keep": (data_path, lambda df: sparkdl.predict(df, model_path, keep=["id"])),
              "f": (data_path, Files(model_path)),
              "f_noprefetch": (data_path, Files(model_path, prefetch=0)),
              "f_fixed": (data_path, Files(model_path, batch_size=FIXED_CALL[kind]))}
    if tuned:
        tuned_udf = batch_udf_scorer(model_path, shape, tuned=True)
        chosen["b_tuned"] = (data_path, lambda df: df.withColumn("prediction", tuned_udf("features")))
    if kind == "cnn" and (only is None or "c_binary" in only):
        binary_path = build(kind, rows, binary=True)[1]
        chosen["c_binary"] = (binary_path, chosen["c"][1])
    if kind == "cnn":
        chosen["b_id"] = (data_path, lambda df: df.select("id", udf("features").alias("prediction")))
    chosen = {label: scorer for label, scorer in chosen.items() if only is None or label in only}
    for label in peers.CONFIGS if only is not None else PEERS_DEFAULT:
        if only is None or label in only:
            skipped = peers.missing(label)
            if skipped:
                print(skipped, flush=True)
            else:
                chosen[label] = (data_path, peers.Peer(label))
    return chosen


def head_sample(data_path: str, rows: int) -> str:
    """The first `rows` rows of `data_path` in two Parquet files: score_files' warm-up input."""
    import pyarrow.dataset as ds

    path = OUT / f"{Path(data_path).name}-head-{rows}"
    if not path.exists():
        examples.write_parquet(ds.dataset(data_path).head(rows), path, files=2)
    return str(path)


def warm_up(spark, score, data_path: str, rows: int) -> None:
    """Untimed: write the first `rows` rows through `score` in two tasks (one per Python worker)."""
    output = OUT / "scored-warm-up"
    if isinstance(score, Files):
        score(spark, head_sample(data_path, rows), output)
        shutil.rmtree(output, ignore_errors=True)
        return
    sample = spark.read.parquet(data_path).limit(rows).repartition(2)
    score(sample).write.mode("overwrite").parquet(str(output))
    shutil.rmtree(output, ignore_errors=True)


def one_round(kind: str, rows: int, chosen: dict, warm_rows: int) -> dict:
    """rows/s of (a) and of every Spark scorer in `chosen`, each Spark one in a fresh session."""
    model_path, data_path, shape = build(kind, rows)
    speeds = {"a": single_process(model_path, data_path, shape),
              "a peak MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for label, (path, score) in chosen.items():
        if isinstance(score, peers.Peer):
            speeds[label], speeds[label + " warm-up s"] = score.measure(model_path, path, shape,
                                                                       head_sample(path, min(warm_rows, rows)), OUT)
            continue
        spark = new_session()
        warm_up(spark, score, path, min(warm_rows, rows))
        speeds[label] = spark_run(spark, score, path, label)
        speeds[label + " peak MB"] = worker_peak_mb()
        spark.stop()
    return speeds


RATIOS = {"c/a": ("c", "a"), "c/b": ("c", "b"), "c_1024/b": ("c_1024", "b"), "c_binary/b": ("c_binary", "b"),
          "c_keep/b_id": ("c_keep", "b_id"), "c_keep/a": ("c_keep", "a"), "f/a": ("f", "a"),
          "f_noprefetch/a": ("f_noprefetch", "a"), "f/f_noprefetch": ("f", "f_noprefetch"),
          "f/f_fixed": ("f", "f_fixed"),
          **{f"{peer}/a": (peer, "a") for peer in peers.CONFIGS}, "f/ray": ("f", "ray"), "f/daft": ("f", "daft"),
          "f/daft_inproc": ("f", "daft_inproc")}
PEERS_DEFAULT = ("ray", "daft", "daft_inproc")  # the variants run when named in --only
SCORERS = {"a", "l0", "b", "b_tuned", "b_id", "c", "c_1024", "c_binary", "c_keep", "f", "f_noprefetch", "f_fixed",
           *peers.CONFIGS}


def measure(kind: str, rows: int, tuned: bool, rounds: int, only=None, warm_rows: int = 4000) -> dict:
    """Medians over `rounds` rounds: rows/s per scorer and the per-round ratios."""
    chosen = scorers(kind, rows, tuned, only)
    runs = []
    for number in range(1, rounds + 1):
        runs.append(one_round(kind, rows, chosen, warm_rows))
        print(f"{kind} round {number}/{rounds}: " + ", ".join(f"{k} {v:,.0f}" for k, v in runs[-1].items()),
              flush=True)
    result = {"model": kind, "rows": rows, "rounds": runs}
    for label in runs[0]:
        result[label] = statistics.median(run[label] for run in runs)
    result["a peak MB"] = runs[0]["a peak MB"]  # later rounds' figure includes the Spark driver's work
    for name, (top, bottom) in RATIOS.items():
        if top in runs[0] and bottom in runs[0]:
            per_round = [run[top] / run[bottom] for run in runs]
            result[name] = statistics.median(per_round)
            result[name + " per round"] = per_round
    return result


DATAFRAME_TABLE = [("rows", "rows", 9, ".0f"), ("(a) TF", "a", 8, ".0f"), ("(b) udf", "b", 8, ".0f"),
                   ("(b tuned)", "b_tuned", 10, ".0f"), ("(c) sparkdl", "c", 12, ".0f"), ("c/a", "c/a", 6, ".2f"),
                   ("c/b", "c/b", 6, ".2f"), ("(c 1024)", "c_1024", 9, ".0f"), ("c1024/b", "c_1024/b", 8, ".2f"),
                   ("(c bin)", "c_binary", 8, ".0f"), ("c bin/b", "c_binary/b", 8, ".2f")]
FILES_TABLE = [("(a) TF", "a", 8, ".0f"), ("(f) score_files", "f", 16, ".0f"), ("f/a", "f/a", 6, ".2f"),
               ("(f no prefetch)", "f_noprefetch", 16, ".0f"), ("f_np/a", "f_noprefetch/a", 7, ".2f"),
               ("f/f_np", "f/f_noprefetch", 7, ".2f"), ("(f fixed)", "f_fixed", 10, ".0f"),
               ("f/f_fixed", "f/f_fixed", 10, ".2f"), ("(c keep)", "c_keep", 9, ".0f"),
               ("c keep/a", "c_keep/a", 9, ".2f"), ("(b id)", "b_id", 8, ".0f"), ("peak MB a", "a peak MB", 10, ".0f"),
               ("f", "f peak MB", 6, ".0f"), ("c keep", "c_keep peak MB", 7, ".0f")]

PEERS_TABLE = [("(a) TF", "a", 8, ".0f"), *[(title, key, max(len(title), 7), form) for peer in peers.CONFIGS
                                             for title, key, form in ((f"({peer})", peer, ".0f"),
                                                                      (f"{peer}/a", f"{peer}/a", ".2f"))],
               ("f/a", "f/a", 6, ".2f"), ("f/ray", "f/ray", 6, ".2f"), ("f/daft", "f/daft", 7, ".2f"),
               ("f/daft_inproc", "f/daft_inproc", 14, ".2f"),
               ("ray warm-up s", "ray warm-up s", 14, ".1f"), ("daft warm-up s", "daft warm-up s", 15, ".1f")]


def print_table(results, columns) -> None:
    """One row per model: (title, result key, width, format) per column; missing values print nan."""
    if not any(key in r for r in results for _, key, _, _ in columns if key not in ("rows", "a", "a peak MB")):
        return  # none of its scorers ran (--only)
    print(f"{'model':<5} " + " ".join(f"{title:>{width}}" for title, _, width, _ in columns))
    for r in results:
        print(f"{r['model']:<5} " + " ".join(f"{r.get(key, float('nan')):>{width}{form}}"
                                             for _, key, width, form in columns))


def print_tables(results, rounds: int) -> None:
    """The DataFrame-path table (b, c) and the file-path table (f against a and c keep); rows/s, medians."""
    print_table(results, DATAFRAME_TABLE)
    print_table(results, FILES_TABLE)
    print_table(results, PEERS_TABLE)
    for r in results:
        shown = ("c/b", "f/a", "f/f_fixed", "ray/a", "daft/a", "daft_inproc/a")
        per_round = {name: r[name + " per round"] for name in shown if name + " per round" in r}
        print(f"{r['model']}: medians over {rounds} round(s); per round: "
              + "; ".join(f"{name} " + ", ".join(f"{v:.2f}" for v in values) for name, values in per_round.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp-rows", type=int, default=1_000_000)
    parser.add_argument("--cnn-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every scorer; medians are reported")
    parser.add_argument("--models", default="mlp,cnn", help="which models, comma-separated: mlp, cnn")
    parser.add_argument("--skip-tuned", action="store_true", help="skip the tuned predict_batch_udf run")
    parser.add_argument("--only", "--scorers", dest="scorers",
                        help="only these scorers, comma-separated (e.g. ray,daft,l0 or f,c_keep); (a), alias l0, "
                             "always runs; peers: " + ", ".join(peers.CONFIGS))
    parser.add_argument("--warm-rows", type=int, default=4000,
                        help="rows of each Spark scorer's untimed warm-up (enough rows let sparkdl's workers settle "
                             "their measured call size before the timed run)")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.rounds < 1 or not models or not set(models) <= {"mlp", "cnn"}:
        parser.error(f"--rounds must be >= 1 and --models a list of mlp, cnn; got {args.rounds}, {args.models!r}")
    OUT.mkdir(exist_ok=True)
    rows = {"mlp": args.mlp_rows, "cnn": args.cnn_rows}
    only = set(args.scorers.split(",")) if args.scorers else None
    if only and not only <= SCORERS:
        parser.error(f"--only: unknown {sorted(only - SCORERS)}; choose from {sorted(SCORERS)}")
    results = [measure(kind, rows[kind], not args.skip_tuned, args.rounds, only, args.warm_rows) for kind in models]
    print_tables(results, args.rounds)
    (OUT / "inference.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
