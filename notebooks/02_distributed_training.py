# Databricks notebook source
# MAGIC %md
# MAGIC # 2. Distributed training with sparkdl
# MAGIC `sparkdl.train` runs MapReduce-style rounds: the driver broadcasts the weights, every partition
# MAGIC works on its share of the round's rows, Spark sums the parts (`treeAggregate`) and the driver
# MAGIC updates the model.
# MAGIC * `sync`: one round is one global batch; the result equals single-process Keras training.
# MAGIC * `average`: each partition takes `local_steps` optimizer steps, the driver averages the weights:
# MAGIC   far fewer rounds, slightly different accuracy per epoch.
# MAGIC
# MAGIC Then: the history plotted, a checkpoint and a resume, scoring with the trained model, and a
# MAGIC run logged to MLflow whose registered model is scored by its alias.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/ml/libs/sparkdl_tf-0.1.0-py3-none-any.whl

# COMMAND ----------

# MAGIC %run ./00_setup

# COMMAND ----------

import keras
from pyspark.sql import functions as F

ROWS = int(param("rows", "100000"))
EPOCHS = int(param("epochs", "3"))
rows = sample_features(ROWS, seed=10)
train_df = rows.where(F.col("id") % 10 != 0).cache()
validation_df = rows.where(F.col("id") % 10 == 0).cache()
print(f"training rows: {train_df.count()}, validation rows: {validation_df.count()}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## `sync`: one global batch per round

# COMMAND ----------

common = dict(features="features", label="label", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              validation_df=validation_df, epochs=EPOCHS)
sync = sparkdl.train(train_df, small_classifier(), mode="sync", batch_size=2048,
                     optimizer=keras.optimizers.Adam(3e-3), **common)
for epoch in sync.history:
    print({key: round(value, 4) for key, value in epoch.items()})

# COMMAND ----------

# MAGIC %md
# MAGIC ## `average`: 16 local steps of 512 rows per round, then the weights are averaged

# COMMAND ----------

average = sparkdl.train(train_df, small_classifier(), mode="average", batch_size=512, local_steps=16,
                        optimizer=keras.optimizers.Adam(3e-3), **common)
for epoch in average.history:
    print({key: round(value, 4) for key, value in epoch.items()})

# COMMAND ----------

# MAGIC %md
# MAGIC ## The history, plotted

# COMMAND ----------

import matplotlib.pyplot as plt

figure, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for name, result, color in (("sync", sync, "C0"), ("average", average, "C1")):
    epochs = [h["epoch"] for h in result.history]
    axes[0].plot(epochs, [h["loss"] for h in result.history], marker="o", color=color, label=f"{name} train")
    axes[0].plot(epochs, [h["val_loss"] for h in result.history], marker="x", linestyle="--", color=color,
                 label=f"{name} validation")
    axes[1].plot(epochs, [h["val_accuracy"] for h in result.history], marker="o", color=color, label=name)
    axes[2].bar([f"{name}\nepoch {e}" for e in epochs], [h["samples_per_second"] for h in result.history],
                color=color)
for axis, title in zip(axes, ("loss", "validation accuracy", "samples / second")):
    axis.set_title(title)
axes[0].set_xlabel("epoch")
axes[1].set_xlabel("epoch")
axes[0].legend()
axes[1].legend()
axes[2].tick_params(axis="x", labelsize=7)
save_figure(figure, "02_training_history")
plt.show()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Checkpoint and resume
# MAGIC Checkpoints (weights, optimizer state, epoch, round) go to any Hadoop path at each epoch end
# MAGIC (and every `checkpoint_every` rounds). Calling `train` again with the same `checkpoint_dir`
# MAGIC continues from the newest one: here a 2-epoch run is extended to 4 epochs, the way a rerun
# MAGIC continues after a crashed driver.

# COMMAND ----------

checkpoint_dir = WORK_DIR.rstrip("/") + "/02_checkpoints"
first = sparkdl.train(train_df, small_classifier(), mode="sync", batch_size=2048, optimizer="adam",
                      checkpoint_dir=checkpoint_dir, resume=False, **dict(common, epochs=2))
resumed = sparkdl.train(train_df, small_classifier(), mode="sync", batch_size=2048, optimizer="adam",
                        checkpoint_dir=checkpoint_dir, **dict(common, epochs=4))
print("epochs trained by the second call:", [h["epoch"] for h in resumed.history][len(first.history):])
assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
assert resumed.history[:2] == first.history, "the resumed run keeps the first run's history"

# COMMAND ----------

# MAGIC %md
# MAGIC ## Score with the trained model
# MAGIC `TrainResult.save` writes a `.keras` file (and its history as JSON) to any Hadoop path;
# MAGIC `sparkdl.predict` scores with it.

# COMMAND ----------

model_uri = average.save(WORK_DIR.rstrip("/") + "/02_trained/classifier.keras", spark)
scored = sparkdl.predict(validation_df, model_uri, outputs={"output_0": "probabilities"})
hits = (F.array_position("probabilities", F.array_max("probabilities")) - 1 == F.col("label")).cast("double")
accuracy = scored.select(F.avg(hits)).first()[0]
print(f"saved {model_uri}; validation accuracy scored with predict: {accuracy:.4f} "
      f"(train's last val_accuracy: {average.history[-1]['val_accuracy']:.4f})")
assert abs(accuracy - average.history[-1]["val_accuracy"]) < 1e-3

# COMMAND ----------

# MAGIC %md
# MAGIC ## Log the run to MLflow, register the model, score it by alias
# MAGIC `train(..., mlflow=True)` logs the run's params (mode, batch size, epochs, partitions, optimizer),
# MAGIC one point per epoch of each metric (loss, accuracy, val_*, samples_per_second, with `step=epoch`)
# MAGIC and the trained model as an MLflow Keras model; `register_as` also registers it. On Databricks
# MAGIC the run goes to the workspace tracking server (registered in the workspace model registry);
# MAGIC elsewhere to a local SQLite store under the work directory (MLflow no longer takes new runs in
# MAGIC a plain `./mlruns` file store). `predict` accepts `models:/<name>@<alias>`, resolved once to a
# MAGIC concrete version when the call starts.

# COMMAND ----------

import mlflow

MODEL_NAME = param("registered_model", "sparkdl_02_classifier")
if ON_DATABRICKS:
    mlflow.set_registry_uri("databricks")  # the workspace registry (Unity Catalog would need a model signature)
    mlflow.set_experiment(param("mlflow_experiment", "/Shared/sparkdl-02-distributed-training"))
else:
    os.makedirs(WORK_DIR, exist_ok=True)
    mlflow.set_tracking_uri("sqlite:///" + os.path.abspath(os.path.join(WORK_DIR, "mlflow.db")))
    experiment = param("mlflow_experiment", "sparkdl-02-distributed-training")
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location="file://" + os.path.abspath(
            os.path.join(WORK_DIR, "mlflow-artifacts")))
    mlflow.set_experiment(experiment)
print("MLflow tracking:", mlflow.get_tracking_uri())

tracked = sparkdl.train(train_df, small_classifier(), mode="average", batch_size=512, local_steps=16,
                        optimizer=keras.optimizers.Adam(3e-3), mlflow=True, register_as=MODEL_NAME, **common)
client = mlflow.MlflowClient()
run = client.get_run(tracked.mlflow_run_id)
print(f"MLflow run {run.info.run_id}: {run.info.status}, model {tracked.mlflow_model_uri}")
print("params:", {key: run.data.params[key] for key in ("mode", "batch_size", "epochs", "partitions", "optimizer")})
points = client.get_metric_history(run.info.run_id, "val_accuracy")
print("val_accuracy per epoch (step, value):", [(point.step, round(point.value, 4)) for point in points])
assert run.info.status == "FINISHED"
assert [point.step for point in points] == [epoch["epoch"] for epoch in tracked.history]

# COMMAND ----------

version = max(int(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'"))
client.set_registered_model_alias(MODEL_NAME, "champion", str(version))
by_alias = sparkdl.predict(validation_df, f"models:/{MODEL_NAME}@champion", outputs={"output_0": "probabilities"})
alias_accuracy = by_alias.select(F.avg(hits)).first()[0]
print(f"models:/{MODEL_NAME}@champion is version {version}; validation accuracy scored by alias: "
      f"{alias_accuracy:.4f} (the run's last val_accuracy: {tracked.history[-1]['val_accuracy']:.4f})")
assert abs(alias_accuracy - tracked.history[-1]["val_accuracy"]) < 1e-3
