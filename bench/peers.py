"""The peers of bench/inference.py: Ray Data and Daft, Parquet -> model -> Parquet of id + prediction.

Each peer reads the same Parquet directory, scores it with the same compiled model call as (a) (sparkdl's
loader: the SavedModel's serving function or a batch-polymorphic tf.function around the Keras model,
loaded once per actor) and writes id + prediction, like (f) and (c keep). Both are optional: without
them installed, bench/inference.py prints that the peer was skipped and how to install it.

  ray     ray.data.read_parquet -> map_batches(callable class, batch_format="pyarrow") -> write_parquet,
          in ray.init(num_cpus=2) started for the run and shut down after it
  daft    daft.read_parquet -> a @daft.cls class UDF (use_process=True, max_concurrency=N processes)
          -> write_parquet; daft_inproc: the same class with use_process=False, its instances on Daft's
          own threads in this process

A configuration is (engine, actors, TF threads per actor): "ray" and "daft" run one actor with two
TensorFlow threads (faster on 2 loaded cores than two actors with one thread each, which are
ray_2x1 and daft_2x1: one process to start instead of two). BATCH is the rows per batch (one model
call) each engine hands its actors, per model: the MLP's fastest call size is in the thousands, the
CNN's in the hundreds (its activations stay in the caches; see README's Benchmarks).
"""
import glob
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

INSTALL = "pip install -e '.[bench]'"
# label -> (engine, actors, TF threads per actor)
CONFIGS = {"ray": ("ray", 1, 2), "ray_2x1": ("ray", 2, 1), "daft": ("daft", 1, 2), "daft_2x1": ("daft", 2, 1),
           "daft_inproc": ("daft-inproc", 2, 0)}  # daft-inproc: instances on Daft's threads in this process,
#                                                     with this process's TensorFlow (2 threads, started by (a))
# rows per batch (one model call) by engine and model (inputs of 64 / 32x32x3 floats), measured here: Daft
# in process scored the MLP at 268k-342k rows/s in batches of 4,096 and 388k-459k in batches of 16,384
BATCH = {"ray": {"mlp": 4096, "cnn": 256}, "daft": {"mlp": 16384, "cnn": 256}}
CHECK_IDS = 512   # predictions are checked on the rows whose id is below this (ids repeat across chunks)


def missing(label: str):
    """None when the peer behind `label` imports, else the line to print when it is skipped."""
    peer = CONFIGS[label][0]
    try:
        __import__("ray.data" if peer == "ray" else "daft")
    except ImportError as error:
        return f"skipped {label}: {peer} is not installed ({error}); install it with {INSTALL}"
    return None


def model_scorer(model_path: str, shape, threads: int):
    """A function pyarrow column -> pyarrow FixedSizeList<float32> predictions, model loaded now."""
    import tensorflow as tf

    if threads:  # 0: TensorFlow's defaults (the check, in a process where TensorFlow already ran)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from sparkdl.tensors import column_to_tensor
    from sparkdl.tf.model_io import KERAS, load_model

    model = load_model(model_path, KERAS)
    name = model.signature.inputs[0].name

    def score(column) -> pa.Array:
        x = column_to_tensor(column, "features", np.float32, shape)
        y = np.ascontiguousarray(next(iter(model({name: x}).values())), dtype=np.float32)
        return pa.FixedSizeListArray.from_arrays(pa.array(y.reshape(-1)), y.shape[1])

    return score


def ray_run(model_path: str, data_path: str, shape, output: str, config) -> None:
    """Ray Data: read_parquet -> map_batches(actor class) -> write_parquet (ray already started)."""
    import ray

    _, actors, threads, batch = config

    class Scorer:
        def __init__(self):
            self.score = model_scorer(model_path, shape, threads)

        def __call__(self, table: pa.Table) -> pa.Table:
            return pa.table({"id": table.column("id"), "prediction": self.score(table.column("features"))})

    # enough blocks that every actor has one to score while the next is read (one per file leaves one
    # idle); actors ask for half a CPU each, so the read and write tasks always find one
    (ray.data.read_parquet(data_path, columns=["id", "features"], override_num_blocks=8 * actors)
     .map_batches(Scorer, batch_format="pyarrow", batch_size=batch, compute=ray.data.ActorPoolStrategy(size=actors),
                  num_cpus=0.5, zero_copy_batch=True)
     .write_parquet(output))


def daft_run(model_path: str, data_path: str, shape, output: str, config) -> None:
    """Daft: read_parquet -> a @daft.cls class UDF (model loaded once per instance) -> write_parquet.

    In process ("daft-inproc"): use_process=False and no max_concurrency. In Daft 0.7 a max_concurrency
    moves the instances into worker processes even with use_process=False (measured: their __init__
    ran in another pid, at a third of the speed); without it Daft runs its instances on its own threads.
    """
    import daft

    engine, actors, threads, batch = config
    dtype = daft.DataType.fixed_size_list(daft.DataType.float32(), model_outputs(model_path))
    placement = {"use_process": False} if engine == "daft-inproc" else {"use_process": True,
                                                                         "max_concurrency": actors}

    @daft.cls(**placement)
    class Scorer:
        def __init__(self):
            self.score = model_scorer(model_path, shape, threads)

        @daft.method.batch(return_dtype=dtype, batch_size=batch)
        def __call__(self, features):
            return self.score(features.to_arrow())

    df = daft.read_parquet(str(Path(data_path) / "*.parquet"))
    df.select("id", Scorer()(df["features"]).alias("prediction")).write_parquet(output)


def model_outputs(model_path: str) -> int:
    """The model's output width, read from its signature (the driver never scores)."""
    from sparkdl.tf.model_io import KERAS, describe_model

    return int(np.prod(describe_model(model_path, KERAS).outputs[0].shape[1:]))


class Peer:
    """One peer configuration: start its engine, warm it up on a sample, then time a full run."""

    def __init__(self, label: str, batch: int = None):
        self.label, self.config, self.batch = label, CONFIGS[label], batch

    def start(self):
        # the engines' workers cannot import this script's directory: ship the scorer classes by value
        if self.config[0] == "ray":
            import ray
            from ray import cloudpickle

            cloudpickle.register_pickle_by_value(sys.modules[__name__])

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            ray.data.DataContext.get_current().enable_progress_bars = False
        else:
            from daft.pickle import cloudpickle

            cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def stop(self):
        if self.config[0] == "ray":
            import ray

            ray.shutdown()

    def run(self, model_path: str, data_path: str, shape, output: Path) -> float:
        """Score `data_path` into `output`; returns seconds."""
        shutil.rmtree(output, ignore_errors=True)
        started = time.perf_counter()
        batch = self.batch or BATCH["ray" if self.config[0] == "ray" else "daft"]["cnn" if len(shape) == 3 else "mlp"]
        (ray_run if self.config[0] == "ray" else daft_run)(model_path, data_path, shape, str(output),
                                                           (*self.config, batch))
        return time.perf_counter() - started

    def measure(self, model_path: str, data_path: str, shape, warm_path: str, out_dir: Path):
        """(rows/s over `data_path`, seconds of the warm-up run over `warm_path`): the warm-up runs first
        in the same engine session. Each run starts its own actors, which import TensorFlow and load
        the model inside the timed run: the warm-up's seconds are mostly that fixed cost. The output
        is checked (see check), then deleted."""
        self.start()
        output = out_dir / f"scored-{self.label}"
        try:
            warm_seconds = self.run(model_path, warm_path, shape, out_dir / f"scored-{self.label}-warm-up")
            seconds = self.run(model_path, data_path, shape, output)
        finally:
            self.stop()
        rows = check(model_path, data_path, shape, output)
        for path in glob.glob(str(out_dir / f"scored-{self.label}*")):
            shutil.rmtree(path, ignore_errors=True)
        return rows / seconds, warm_seconds


def check(model_path: str, data_path: str, shape, output: Path) -> int:
    """Raise unless `output` holds every input id exactly as often as the input does and the
    predictions of the rows with id < CHECK_IDS equal the direct model call (rtol 1e-5, atol 1e-6,
    the tests' tolerance); returns the rows written."""
    scored = ds.dataset(str(output), format="parquet").to_table()
    source = ds.dataset(data_path, format="parquet")
    ids = np.sort(source.to_table(columns=["id"]).column("id").to_numpy())
    if not np.array_equal(np.sort(scored.column("id").to_numpy()), ids):
        raise AssertionError(f"{output}: {scored.num_rows} rows written for {len(ids)} read, or ids differ")
    sample = source.to_table(filter=ds.field("id") < CHECK_IDS)
    want = _sorted(sample.column("id").to_numpy(), model_scorer(model_path, shape, 0)(sample.column("features")))
    got_rows = scored.filter(pc.less(scored.column("id"), CHECK_IDS))
    got = _sorted(got_rows.column("id").to_numpy(), got_rows.column("prediction"))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    return scored.num_rows


def _sorted(ids, predictions) -> np.ndarray:
    """Rows of (id, prediction...) sorted by id then by the first prediction (ids repeat across chunks)."""
    if isinstance(predictions, pa.ChunkedArray):
        predictions = predictions.combine_chunks()
    values = predictions.flatten().to_numpy().reshape(len(predictions), -1)
    rows = np.column_stack([ids.astype(np.float64), values.astype(np.float64)])
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]
