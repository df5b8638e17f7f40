"""train() with MLflow tracking, Keras callbacks, job descriptions and a cancelled job group."""
import threading
import time

import numpy as np
import pytest

import sparkdl
from sparkdl import TrainingCancelledError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(spark):
    """A cached 256-row regression DataFrame (2 partitions) and its features."""
    return _data(spark)


def _data(spark, rows=256, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3).astype(np.float32)
    return spark.createDataFrame([(x[i].tolist(), float(y[i])) for i in range(rows)],
                                 "features array<float>, label float").repartition(2).cache(), x


def _model(seed=4):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(1)])


def _jobs(sc, group):
    """(description, status) of every job of `group`, from the driver's status store, oldest first."""
    jobs = sc._jsc.sc().statusStore().jobsList(None)
    found = []
    for i in range(jobs.size()):
        job = jobs.apply(i)
        if job.jobGroup().isDefined() and job.jobGroup().get() == group:
            found.append((job.jobId(), job.description().get() if job.description().isDefined() else None))
    return [description for _, description in sorted(found)]


@pytest.mark.mlflow
def test_mlflow_run_has_params_epoch_metrics_and_a_loadable_model(data, mlflow_server):
    import mlflow

    df, x = data
    mlflow.set_experiment("sparkdl-train")
    with mlflow.start_run() as active:  # an active run: train logs into it by default
        result = sparkdl.train(df, _model(), features="features", label="label", loss="mse", optimizer="adam",
                               epochs=2, batch_size=64, metrics=["mae"], validation_df=df,
                               register_as="sparkdl-trained")
    assert result.mlflow_run_id == active.info.run_id
    run = mlflow.MlflowClient().get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert {"mode": "sync", "batch_size": "64", "epochs": "2", "partitions": "2", "optimizer": "Adam"}.items() \
        <= run.data.params.items() and "optimizer.learning_rate" in run.data.params
    history = mlflow.MlflowClient().get_metric_history(result.mlflow_run_id, "loss")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([epoch["loss"] for epoch in result.history])
    val = mlflow.MlflowClient().get_metric_history(result.mlflow_run_id, "val_mae")
    assert [m.value for m in val] == pytest.approx([epoch["val_mae"] for epoch in result.history])
    assert {"mae", "val_loss", "samples_per_second"} <= run.data.metrics.keys()
    loaded = mlflow.tensorflow.load_model("models:/sparkdl-trained/1")
    np.testing.assert_allclose(loaded(x[:16]), result.model(x[:16]), rtol=1e-6)


@pytest.mark.mlflow
def test_early_stopping_stops_an_lr_schedule_reaches_the_optimizer_and_a_run_id_gets_the_epochs(data, mlflow_server):
    import keras
    import mlflow

    df, _ = data
    rates = []
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=1e9, patience=0)
    halve = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / 2 ** epoch)
    seen = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rates.append((epoch, float(seen.model.optimizer.learning_rate),
                                                      sorted(logs))))
    mlflow.set_experiment("sparkdl-train")
    with mlflow.start_run(run_name="made-before") as earlier:
        pass
    result = sparkdl.train(df, _model(), features="features", label="label", loss="mse", optimizer="sgd", epochs=5,
                           batch_size=128, callbacks=[halve, stop, seen], mlflow=earlier.info.run_id)
    assert len(result.history) == 2  # epoch 2 did not improve by min_delta: stopped before epoch 3
    keys = ["learning_rate", "loss", "samples_per_second"]
    assert rates == [(0, pytest.approx(0.1), keys), (1, pytest.approx(0.05), keys)]
    assert result.mlflow_run_id == earlier.info.run_id and mlflow.active_run() is None
    run = mlflow.MlflowClient().get_run(earlier.info.run_id)  # mlflow=<run id>: that run, reopened and ended
    assert run.info.run_name == "made-before" and run.info.status == "FINISHED" and run.data.params["epochs"] == "5"
    history = mlflow.MlflowClient().get_metric_history(earlier.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(e["epoch"], pytest.approx(e["loss"])) for e in result.history]


def test_train_jobs_are_described_under_one_group_and_cancel_leaves_a_resumable_checkpoint(spark, tmp_path):
    sc = spark.sparkContext
    df, _ = _data(spark, rows=640)  # 40 rounds of 16 rows
    args = dict(features="features", label="label", loss="mse", epochs=1, batch_size=16,
                checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=1)
    outcome = {}

    def run():
        try:
            outcome["result"] = sparkdl.train(df, _model(), job_group="sparkdl-test-cancel", **args)
        except Exception as error:  # noqa: BLE001 -- handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    while "sparkdl train: epoch 1/1 round 3/40" not in _jobs(sc, "sparkdl-test-cancel") and thread.is_alive():
        time.sleep(0.02)
    sparkdl.cancel_training(spark, "sparkdl-test-cancel")  # stops the running round, or the next one
    at_cancel = len(_jobs(sc, "sparkdl-test-cancel"))  # after the call: rounds started before it are not late
    thread.join(60)
    assert isinstance(outcome.get("error"), TrainingCancelledError), outcome
    assert "cancelled" in str(outcome["error"]) and str(tmp_path / "ckpt") in str(outcome["error"])
    descriptions = _jobs(sc, "sparkdl-test-cancel")
    assert len(descriptions) <= at_cancel + 2
    layout = descriptions.index("sparkdl train: storing shards")
    assert layout >= 1 and set(descriptions[:layout]) == {"sparkdl train: laying out the rows"}
    assert descriptions[layout + 1:layout + 4] == [f"sparkdl train: epoch 1/1 round {r}/40" for r in (1, 2, 3)]
    resumed = sparkdl.train(df, _model(), **args)
    assert len(resumed.history) == 1 and resumed.history[0]["rounds"] < 40


def test_predict_first_row_check_job_is_described(spark, mlp):
    _, keras_path, _ = mlp
    df = spark.createDataFrame([([0.5] * 8,)], "features array<float>")
    sc = spark.sparkContext
    sc.setJobGroup("sparkdl-test-predict", "predict")
    try:
        sparkdl.predict(df, keras_path)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    descriptions = _jobs(sc, "sparkdl-test-predict")
    assert descriptions and descriptions[-1].startswith("sparkdl predict: model ") \
        and descriptions[-1].endswith("… (keras)")
    assert sc.getLocalProperty("spark.job.description") == "predict"  # the caller's description, put back
    sc.setLocalProperty("spark.job.description", None)


def test_train_job_register_as_needs_an_mlflow_experiment(tmp_path):
    from sparkdl.jobs import train as train_job

    with pytest.raises(sparkdl.ConfigError, match="--register-as needs --mlflow-experiment"):
        train_job.main(["--model", "unused.keras", "--input", str(tmp_path), "--features", "f", "--label", "y",
                        "--output", str(tmp_path / "out.keras"), "--register-as", "m"])
