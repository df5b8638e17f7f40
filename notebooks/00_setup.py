# Databricks notebook source
# MAGIC %md
# MAGIC # sparkdl notebook setup
# MAGIC Run by the other notebooks with `%run ./00_setup`. It checks that `sparkdl` is this package,
# MAGIC gets the `spark` session (the existing one on Databricks, a local one elsewhere) and defines
# MAGIC `param(name, default)`: a text widget on Databricks, the environment variable
# MAGIC `SPARKDL_NB_<NAME>` elsewhere (`scripts/run_notebook.py --param name=value` sets it).
# MAGIC Each run works in a fresh `WORK_DIR` (`<work_dir>/run-<time>-<id>`), so re-running a notebook with the
# MAGIC same `work_dir` never resumes an earlier run's checkpoints or appends to its outputs.

# COMMAND ----------

import logging
import os
import sys
import tempfile
import time
import uuid

logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
logging.getLogger("sparkdl").setLevel(logging.INFO)  # one line per training epoch / stream batch

ON_DATABRICKS = "DATABRICKS_RUNTIME_VERSION" in os.environ


def param(name, default):
    """A notebook parameter: a widget on Databricks, else the environment variable SPARKDL_NB_<NAME>."""
    if ON_DATABRICKS:
        dbutils.widgets.text(name, default)
        return dbutils.widgets.get(name)
    return os.environ.get("SPARKDL_NB_" + name.upper(), default)


# COMMAND ----------

# Databricks Runtime ML has shipped an unrelated module called `sparkdl`: make sure this is ours.
import sparkdl

print(f"sparkdl {getattr(sparkdl, '__version__', '(no version)')} imported from {sparkdl.__file__}")
_NEEDED = {"predict", "train", "score_stream", "TFTransformer"}
if not _NEEDED <= set(getattr(sparkdl, "__all__", ())):
    raise ImportError(
        f"the 'sparkdl' imported from {sparkdl.__file__} is not the sparkdl these notebooks need (it lacks "
        f"{sorted(_NEEDED - set(getattr(sparkdl, '__all__', ())))}). Databricks Runtime ML ships an unrelated "
        "package of that name: run the %pip cell at the top of the notebook with the sparkdl wheel, then rerun.")

# COMMAND ----------

if "spark" not in globals():  # Databricks provides `spark`; elsewhere build a local session
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pyspark.sql import SparkSession

    # local[N,F]: a failed task (say, a crashed Python worker) is retried up to F-1 times, as in the
    # jobs; plain local[N] never retries one, so one lost worker would fail the whole notebook.
    spark = (SparkSession.builder.master(param("master", "local[2,4]")).appName("sparkdl-notebooks")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
print("Spark", spark.version, "master", spark.sparkContext.master)

RUN_ID = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
WORK_DIR = param("work_dir", "dbfs:/tmp/sparkdl-notebooks" if ON_DATABRICKS
                 else tempfile.mkdtemp(prefix="sparkdl-notebooks-")).rstrip("/") + "/run-" + RUN_ID
FIGURE_DIR = param("figure_dir", tempfile.mkdtemp(prefix="sparkdl-figures-"))  # on the driver's local disk
os.makedirs(FIGURE_DIR, exist_ok=True)
print("work_dir:", WORK_DIR, "| figures:", FIGURE_DIR)

# COMMAND ----------

import matplotlib

if not ON_DATABRICKS:
    matplotlib.use("Agg")  # files only; Databricks renders figures inline


def save_figure(figure, name):
    """Save a matplotlib figure as FIGURE_DIR/<name>.png and return the path."""
    path = os.path.join(FIGURE_DIR, name + ".png")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    print("figure saved:", path)
    return path


def sample_features(rows, features=64, seed=0):
    """A DataFrame (id, features array<float>, label int) built by Spark itself: the label is the
    position of the largest of the first 10 features, a target a small MLP learns."""
    from pyspark.sql import functions as F

    values = F.array(*[F.rand(seed + i) for i in range(features)]).cast("array<float>")
    first = F.slice("features", 1, 10)
    return (spark.range(rows).withColumn("features", values)
            .withColumn("label", (F.array_position(first, F.array_max(first)) - 1).cast("int")))


def small_classifier(features=64, classes=10, seed=1):
    """A compiled Keras MLP: features -> 64 (relu) -> classes (softmax)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((features,), name="features"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
