# Databricks notebook source
# MAGIC %md
# MAGIC # 1. Batch scoring with sparkdl
# MAGIC Score a Spark DataFrame with a Keras model: `sparkdl.predict`, the `TFTransformer` in a Spark ML
# MAGIC Pipeline (saved and loaded), the model as a SQL function, and a look at throughput.
# MAGIC
# MAGIC On Databricks, install the wheel first (upload `dist/sparkdl_tf-*.whl` to DBFS or a volume and fix
# MAGIC the path below); outside Databricks run this file with `python scripts/run_notebook.py`, which
# MAGIC skips the `%pip` cell.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/ml/libs/sparkdl_tf-0.1.0-py3-none-any.whl

# COMMAND ----------

# MAGIC %run ./00_setup

# COMMAND ----------

# MAGIC %md
# MAGIC ## A model and some data
# MAGIC The model is any SavedModel directory or `.keras` file, on any path Spark can read
# MAGIC (`dbfs:/`, `s3a://`, `hdfs://`, or the driver's local disk: sparkdl reads it on the driver and
# MAGIC broadcasts it). Leave the `model` parameter empty to train a small classifier here.

# COMMAND ----------

import time

import numpy as np
from pyspark.sql import functions as F

ROWS = int(param("rows", "200000"))
MODEL = param("model", "")
data = sample_features(ROWS).cache()
print(f"{data.count()} rows:", data.schema.simpleString())

if not MODEL:
    sample = data.limit(20_000).toPandas()
    model = small_classifier()
    model.fit(np.stack(sample["features"]), sample["label"].to_numpy(), epochs=8, batch_size=256, verbose=0)
    MODEL = os.path.join(tempfile.mkdtemp(prefix="sparkdl-model-"), "classifier.keras")
    model.save(MODEL)
print("model:", MODEL)

# COMMAND ----------

# MAGIC %md
# MAGIC ## `sparkdl.predict`
# MAGIC Inputs bind by name (the model's input is called `features`, like the column); the single output
# MAGIC is renamed to `probabilities`. The model is broadcast once and loaded once per Python worker.

# COMMAND ----------

scored = sparkdl.predict(data, MODEL, outputs={"output_0": "probabilities"}, batch_size=1024)
predicted = F.array_position("probabilities", F.array_max("probabilities")) - 1
scored = scored.withColumn("predicted", predicted.cast("int"))
scored.select("id", "label", "predicted", F.round(F.array_max("probabilities"), 3).alias("confidence")).show(5)

accuracy = scored.select(F.avg((F.col("predicted") == F.col("label")).cast("double"))).first()[0]
print(f"accuracy on {ROWS} rows: {accuracy:.3f}; model loads on the executors so far: {sparkdl.model_loads(spark)}")
assert accuracy > 0.5, f"the classifier should beat chance by far, got accuracy {accuracy:.3f}"

# COMMAND ----------

# MAGIC %md
# MAGIC ## In a Spark ML Pipeline, saved and loaded
# MAGIC `TFTransformer` copies the model into the saved pipeline, so the pipeline directory is all you
# MAGIC need to score later, anywhere.

# COMMAND ----------

from pyspark.ml import Pipeline, PipelineModel

stage = sparkdl.TFTransformer(model=MODEL, outputs={"output_0": "probabilities"}, batchSize=1024)
pipeline_path = WORK_DIR.rstrip("/") + "/01_pipeline"
Pipeline(stages=[stage]).fit(data).write().overwrite().save(pipeline_path)
reloaded = PipelineModel.load(pipeline_path)

again = reloaded.transform(data).select("id", F.col("probabilities").alias("again"))
largest_gap = (scored.join(again, "id")
               .select(F.max(F.abs(F.col("probabilities")[0] - F.col("again")[0]))).first()[0])
print(f"pipeline saved to {pipeline_path}; largest difference from predict(): {largest_gap}")
assert largest_gap < 1e-5

# COMMAND ----------

# MAGIC %md
# MAGIC ## From SQL

# COMMAND ----------

sparkdl.register_udf(spark, "classify", MODEL)
data.createOrReplaceTempView("customers")
spark.sql("""
    SELECT id, label, array_position(p, array_max(p)) - 1 AS predicted
    FROM (SELECT id, label, classify(features) AS p FROM customers)
""").show(5)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Throughput
# MAGIC Scoring into Spark's `noop` sink measures the model and the Arrow hand-off, not the write.
# MAGIC Unset, `batch_size` is measured: each Python worker times its first calls and keeps the fastest
# MAGIC rows per call for this model (the executor log says `scores in calls of N rows`). Fixed sizes
# MAGIC for comparison: small calls pay TensorFlow's per-call cost, very large ones spill the caches.

# COMMAND ----------

import matplotlib.pyplot as plt

sparkdl.predict(data, MODEL).write.format("noop").mode("overwrite").save()  # warm-up: workers and model cache
throughput = {}
for batch_size in (None, 128, 1024, 8192):
    started = time.time()
    sparkdl.predict(data, MODEL, batch_size=batch_size).write.format("noop").mode("overwrite").save()
    label = "measured" if batch_size is None else str(batch_size)
    throughput[label] = ROWS / (time.time() - started)
    print(f"batch_size {label:>5}: {throughput[label]:,.0f} rows/s")

figure, axis = plt.subplots(figsize=(6, 3.5))
axis.bar(list(throughput), list(throughput.values()), color="#3b7dd8")
axis.set_xlabel("batch_size (rows per model call)")
axis.set_ylabel("rows / second")
axis.set_title(f"sparkdl.predict on {spark.sparkContext.master}, {ROWS:,} rows")
save_figure(figure, "01_throughput")
plt.show()
