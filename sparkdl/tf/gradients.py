"""Pure training math: gradient sums over a shard, local SGD steps, optimizer application.

Runs on executors (gradient sums, local steps) and on the driver (applying a mean gradient).
Gradients and weights travel as one flat float32 vector, so Spark sums them with plain numpy.
The loss is summed over examples (not averaged), plus the regularization losses once per example,
so partition results add up exactly and the driver's division by the global count gives the same
mean loss and gradient Keras' `fit` computes on one machine. Metrics likewise return sums of
per-example values.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from . import keras_objects
from .keras_objects import on_device


def flatten(arrays) -> np.ndarray:
    """Concatenate arrays into one float32 vector."""
    if not arrays:
        return np.zeros(0, np.float32)
    return np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in arrays])


def unflatten(vector: np.ndarray, like) -> list:
    """Split a flat vector into arrays shaped like the variables in `like`."""
    parts, start = [], 0
    for variable in like:
        shape = tuple(variable.shape)
        size = int(np.prod(shape))
        parts.append(vector[start:start + size].reshape(shape))
        start += size
    return parts


def get_weights(model) -> np.ndarray:
    return flatten([v.numpy() for v in model.weights])


def set_weights(model, vector: np.ndarray) -> int:
    """Assign the model's weights from the front of `vector`; return how many values it used."""
    for variable, value in zip(model.weights, unflatten(vector, model.weights)):
        variable.assign(value)
    return sum(int(np.prod(v.shape)) for v in model.weights)


def _summed_loss(model, loss, y, prediction):
    """The loss summed over the batch, plus the model's regularization losses (`model.losses`)
    once per example: Keras' batch loss times the rows, so partitions add up (inside tf.function)."""
    values = tf.cast(loss(y, prediction), tf.float32)
    rows = tf.cast(tf.shape(prediction)[0], tf.float32)
    if values.shape.rank == 0:  # a function that already averaged over the batch
        total = values * rows
    else:
        per_example = tf.reshape(values, [tf.shape(values)[0], -1])
        total = tf.reduce_sum(tf.reduce_mean(per_example, axis=1))
    extra = [tf.reduce_sum(tf.cast(value, tf.float32)) for value in model.losses]
    return total + rows * tf.add_n(extra) if extra else total


class _MetricSums:
    """Per-example-mean Keras metrics evaluated statelessly: each call returns the sums of their
    per-example values over the batch (the metrics' `total`), so partitions add up."""

    def __init__(self, specs, label_shape, output_shape):
        self.metrics = [keras_objects.build_metric(spec, label_shape, output_shape) for spec in specs]
        self.totals = []
        for metric in self.metrics:
            found = [i for i, v in enumerate(metric.variables) if v is getattr(metric, "total", None)]
            if not found or not isinstance(metric, keras.metrics.Mean):
                raise ConfigError(f"metric {metric.name!r} ({type(metric).__name__}) is not a mean over examples; "
                                  f"use per-example metrics such as {', '.join(keras_objects.METRIC_EXAMPLES)}")
            self.totals.append(found[0])

    def __call__(self, y, prediction):
        """(runs inside tf.function) one float32 sum per metric."""
        sums = []
        for metric, total in zip(self.metrics, self.totals):
            state = metric.stateless_update_state([tf.zeros(v.shape, v.dtype) for v in metric.variables], y, prediction)
            sums.append(tf.cast(state[total], tf.float32))
        return tf.stack(sums) if sums else tf.zeros([0])


class ShardTrainer:
    """Compiled gradient and evaluation functions for one model, loss and metrics (one per Python
    worker, on executors). `loss` and each metric: a spec from keras_objects.loss_spec /
    metric_spec, or anything `model.compile` takes for a single output."""

    def __init__(self, model, loss, metrics=(), device=None):
        self.model = model
        self.metrics = tuple(metrics)
        self.device = device
        self._loss = keras_objects.build_loss(loss)
        # compiled on the first batch: "accuracy" resolves from the label's shape, as in compile
        self._gradient_sum = self._evaluate = None

    def _compile(self, y) -> None:
        """Build the metrics for this label shape and the compiled gradient and evaluation functions."""
        if self._gradient_sum is not None:
            return
        model, loss = self.model, self._loss
        with on_device(self.device):
            metric_sums = _MetricSums(self.metrics, tuple(y.shape), tuple(model.outputs[0].shape))

        @tf.function(reduce_retracing=True)
        def gradient_sum(x, y):
            with tf.GradientTape() as tape:
                prediction = model(x, training=True)
                total = _summed_loss(model, loss, y, prediction)
            return tape.gradient(total, model.trainable_variables), total, metric_sums(y, prediction)

        @tf.function(reduce_retracing=True)
        def evaluate(x, y):
            prediction = model(x, training=False)
            return _summed_loss(model, loss, y, prediction), metric_sums(y, prediction)

        self._gradient_sum, self._evaluate = gradient_sum, evaluate

    def gradient_sums(self, x, y):
        """(flat gradient of the summed loss, loss sum, metric sums) over all of x, y."""
        self._compile(y)
        with on_device(self.device):
            gradients, total, metric_sums = self._gradient_sum(x, y)
        return flatten([g.numpy() for g in gradients]), float(total), metric_sums.numpy().astype(np.float64)

    def evaluate(self, x, y):
        """(loss sum, metric sums) over x, y, without training."""
        self._compile(y)
        with on_device(self.device):
            total, metric_sums = self._evaluate(x, y)
        return float(total), metric_sums.numpy().astype(np.float64)

    def local_steps(self, optimizer, optimizer_vector, x, y, batch_size: int):
        """Take one optimizer step per `batch_size` slice of x, y, starting from the optimizer state
        in `optimizer_vector` (see `optimizer_vector`); return (loss sum, metric sums). All steps
        run in one compiled loop: no Python between steps."""
        self._compile(y)
        with on_device(self.device):
            steps = self._compiled_steps(optimizer)
            set_optimizer_vector(optimizer, optimizer_vector)
            total, metric_sums = steps(x, y, tf.constant(batch_size, tf.int32))
        return float(total), metric_sums.numpy().astype(np.float64)

    def _compiled_steps(self, optimizer):
        """The compiled local-steps loop bound to `optimizer` (built once per optimizer)."""
        if getattr(self, "_steps_for", None) is not optimizer:
            optimizer.build(self.model.trainable_variables)
            model, gradient_sum, metrics = self.model, self._gradient_sum, len(self.metrics)

            @tf.function(reduce_retracing=True)
            def steps(x, y, batch_size):
                total, sums = tf.constant(0.0), tf.zeros([metrics])
                for start in tf.range(0, tf.shape(y)[0], batch_size):
                    y_batch = y[start:start + batch_size]
                    x_batch = [part[start:start + batch_size] for part in x] if isinstance(x, (list, tuple)) \
                        else x[start:start + batch_size]
                    gradients, batch_total, batch_sums = gradient_sum(x_batch, y_batch)
                    count = tf.cast(tf.shape(y_batch)[0], tf.float32)
                    optimizer.apply_gradients(zip([g / count for g in gradients], model.trainable_variables))
                    total, sums = total + batch_total, sums + batch_sums
                return total, sums

            self._steps, self._steps_for = steps, optimizer
        return self._steps


class MeanGradientApplier:
    """Driver: applies a round's mean gradient (sum / count) with the Keras optimizer, compiled."""

    def __init__(self, model, optimizer):
        self.variables = model.trainable_variables
        optimizer.build(self.variables)

        @tf.function(reduce_retracing=True)
        def apply(gradients):
            optimizer.apply_gradients(zip(gradients, self.variables))

        self._apply = apply

    def __call__(self, gradient_sum: np.ndarray, count: int) -> None:
        mean = (gradient_sum / count).astype(np.float32)
        self._apply([tf.convert_to_tensor(g) for g in unflatten(mean, self.variables)])


def optimizer_vector(optimizer) -> np.ndarray:
    """The optimizer's variables (step count, moments, ...) as one flat float32 vector, so that
    `average` mode averages them across partitions like the weights."""
    return flatten(optimizer_state(optimizer))


def set_optimizer_vector(optimizer, vector: np.ndarray) -> None:
    """Put a vector from `optimizer_vector` back; integer variables (the step count) are rounded."""
    for variable, value in zip(optimizer.variables, unflatten(vector, optimizer.variables)):
        dtype = np.dtype(variable.dtype)
        variable.assign(np.rint(value).astype(dtype) if dtype.kind in "iu" else value.astype(dtype))


def optimizer_state(optimizer) -> list:
    return [v.numpy() for v in optimizer.variables]


def restore_optimizer(optimizer, model, state: list) -> None:
    """Driver: put saved optimizer variables back (after building the optimizer for `model`)."""
    optimizer.build(model.trainable_variables)
    for variable, value in zip(optimizer.variables, state):
        variable.assign(value)
