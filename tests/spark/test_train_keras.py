"""sparkdl.train takes loss, optimizer and metrics as model.compile does and trains as model.fit
does (local[2], SGD, the same row order), or fails on the driver before any Spark job."""
import numpy as np
import pytest

import sparkdl
from sparkdl import ConfigError, SchemaError
from tests import models

pytestmark = pytest.mark.slow


def _ordered_df(spark, x, y):
    """A DataFrame whose row order is the numpy order; array labels for 2-d y."""
    label_type = "array<float>" if y.ndim == 2 else "double"
    rows = [(x[i].tolist(), y[i].tolist() if y.ndim == 2 else float(y[i])) for i in range(len(y))]
    return spark.createDataFrame(rows, f"features array<float>, label {label_type}")


def _model(outputs, activation, l2=0.0, seed=3, batchnorm=False):
    import keras

    keras.utils.set_random_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((6,), name="features"), keras.layers.Dense(8, activation="tanh",
                                                                     kernel_regularizer=regularizer)]
    if batchnorm:
        layers.append(keras.layers.BatchNormalization())
    return keras.Sequential([*layers, keras.layers.Dense(outputs, activation=activation)])


def _fit(model, x, y, loss, batch, lr, metrics=(), validation=None):
    """Single-process Keras: (the trained copy of `model`, its history)."""
    import keras

    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.SGD(lr), loss=loss, metrics=list(metrics))
    history = reference.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, validation_data=validation)
    return reference, history.history


def _train(spark, model, x, y, loss, batch, lr, **kwargs):
    import keras

    return sparkdl.train(_ordered_df(spark, x, y), model, features="features", label="label", loss=loss,
                         optimizer=keras.optimizers.SGD(lr), batch_size=batch, mode="sync", **kwargs)


def _assert_same_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def _features(rows, seed=11):
    return np.random.default_rng(seed).normal(size=(rows, 6)).astype(np.float32)


@pytest.mark.parametrize("form", ["name", "object", "function"])
def test_binary_crossentropy_with_scalar_labels_trains_like_fit_in_every_loss_form(spark, form):
    import keras

    def my_bce(y_true, y_pred):
        return keras.losses.binary_crossentropy(y_true, y_pred)

    x = _features(240)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)  # scalar 0/1 labels for a (b, 1) sigmoid output
    model = _model(1, "sigmoid")
    reference, history = _fit(model, x, y, "binary_crossentropy", batch=60, lr=0.5)
    loss = {"name": "binary_crossentropy", "object": keras.losses.BinaryCrossentropy(), "function": my_bce}[form]
    result = _train(spark, model, x, y, loss, batch=60, lr=0.5)
    _assert_same_weights(result.model, reference)
    assert result.history[0]["loss"] == pytest.approx(history["loss"][0], rel=1e-4)


def _metrics():
    """Per-example means and metrics whose state is counts per threshold or class (fresh objects)."""
    import keras

    return ["accuracy", "auc", keras.metrics.Precision(name="precision"), "root_mean_squared_error",
            keras.metrics.F1Score(average="macro", name="f1")]


def test_one_hot_labels_with_keras_metrics_report_what_fit_reports(spark):
    x = _features(300)
    index = np.argmax(x[:, :3], axis=1)
    y = np.eye(3, dtype=np.float32)[index]
    model = _model(3, "softmax", seed=4)
    reference, history = _fit(model, x[:240], y[:240], "categorical_crossentropy", batch=48, lr=0.5,
                              metrics=_metrics(), validation=(x[240:], y[240:]))
    result = _train(spark, model, x[:240], y[:240], "categorical_crossentropy", batch=48, lr=0.5,
                    metrics=_metrics(), validation_df=_ordered_df(spark, x[240:], y[240:]))
    _assert_same_weights(result.model, reference)
    ours = result.history[0]
    assert set(history) == {k for k in ours if "loss" in k or k in history}, (history, ours)
    for key in history:  # loss, accuracy, auc, precision, root_mean_squared_error, f1 and each val_
        assert ours[key] == pytest.approx(history[key][0], rel=1e-4, abs=1e-6), key


def test_average_mode_validation_metrics_equal_keras_evaluate_of_the_trained_model(spark):
    import keras

    x = _features(200, seed=6)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.float32)
    result = sparkdl.train(_ordered_df(spark, x[:160], y[:160]), _model(1, "sigmoid"), features="features",
                           label="label", loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5),
                           batch_size=32, mode="average", local_steps=2, epochs=2, partitions=2, metrics=_metrics()[:4],
                           validation_df=_ordered_df(spark, x[160:], y[160:]))
    result.model.compile(loss="binary_crossentropy", metrics=_metrics()[:4])  # not F1Score: it takes 2-d labels
    expected = result.model.evaluate(x[160:], y[160:], batch_size=40, verbose=0, return_dict=True)
    last = result.history[-1]
    for key in ("loss", "accuracy", "auc", "precision", "root_mean_squared_error"):
        assert last[f"val_{key}"] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key
    assert 0.5 < last["auc"] <= 1.0 and last["samples"] == 160


def test_l2_regularized_model_trains_like_fit_and_unlike_l2_zero(spark):
    x = _features(192, seed=5)
    y = (x @ np.linspace(-1, 1, 6)).astype(np.float32)[:, None]
    model = _model(1, None, l2=0.1)
    reference, history = _fit(model, x, y, "mse", batch=32, lr=0.05)
    unregularized, _ = _fit(_model(1, None, l2=0.0), x, y, "mse", batch=32, lr=0.05)
    result = _train(spark, model, x, y, "mse", batch=32, lr=0.05)
    _assert_same_weights(result.model, reference)
    assert result.history[0]["loss"] == pytest.approx(history["loss"][0], rel=1e-4)  # includes the L2 term
    assert not np.allclose(result.model.get_weights()[0], unregularized.get_weights()[0], atol=1e-3)


def test_bad_arguments_fail_on_the_driver_before_any_spark_job(spark):
    import keras

    _RunningMax = models.running_max_metric()
    sc = spark.sparkContext
    x = _features(16)
    df = _ordered_df(spark, x, np.zeros(16, np.float32))
    inputs = keras.Input((6,), name="features")
    two_outputs = keras.Model(inputs, [keras.layers.Dense(1)(inputs), keras.layers.Dense(2)(inputs)])
    cases = [
        (dict(optimizer="sgdd"), ConfigError, "optimizer 'sgdd' is not a Keras optimizer"),
        (dict(metrics=["accuracy", "acurracy"]), ConfigError, "unknown metric 'acurracy'"),
        (dict(metrics=["auc", _RunningMax()]), ConfigError, r"\(_RunningMax\) has its own update_state"),
        (dict(loss="binary_crossentropyy"), ConfigError, "unknown loss 'binary_crossentropyy'"),
        (dict(model=two_outputs), SchemaError, "train supports single-output models"),
        (dict(model=_model(3, "softmax"), loss="categorical_crossentropy"), SchemaError,
         r"label column 'label' \(double\) cannot be the label of model output .*\[3\]"),
    ]
    sc.setJobGroup("keras-arguments", "train() calls that must fail before any job")
    try:
        for overrides, error, message in cases:
            args = {"model": _model(1, "sigmoid"), "loss": "binary_crossentropy", "optimizer": "sgd", **overrides}
            with pytest.raises(error, match=message):
                sparkdl.train(df, args.pop("model"), features="features", label="label", **args)
        assert list(sc.statusTracker().getJobIdsForGroup("keras-arguments")) == []
        df.count()  # the check sees jobs of this group
        assert len(sc.statusTracker().getJobIdsForGroup("keras-arguments")) >= 1
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)


def test_batchnorm_model_in_sync_mode_logs_a_warning_and_trains(spark, caplog):
    x = _features(64)
    y = (x[:, 0] > 0).astype(np.float32)
    with caplog.at_level("WARNING", logger="sparkdl"):
        result = _train(spark, _model(1, "sigmoid", batchnorm=True), x, y, "binary_crossentropy", batch=32, lr=0.1,
                        metrics=["accuracy"])
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "moving_mean" in r.getMessage()]
    assert len(warnings) == 1 and "mode='sync'" in warnings[0].getMessage()
    assert result.history[0]["samples"] == 64 and 0.0 <= result.history[0]["accuracy"] <= 1.0
