"""Pure training math: gradient sums over a shard, local SGD steps, optimizer application.

Runs on executors (gradient sums, local steps) and on the driver (applying a mean gradient).
Gradients and weights travel as one flat float32 vector, so Spark sums them with plain numpy.
The loss is summed over examples (not averaged), plus the regularization losses once per example,
so partition results add up exactly and the driver's division by the global count gives the same
mean loss and gradient Keras' `fit` computes on one machine. Metrics return their Keras state
variables (counts and totals), which add up the same way (`MetricState`).
"""
from __future__ import annotations

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


def _example_batch(shape) -> tuple:
    """A one-row shape for `shape` (batch first; unknown inner dimensions become 1)."""
    return (1, *(1 if d is None else int(d) for d in tuple(shape)[1:]))


class MetricState:
    """Keras metrics as one flat float64 vector of their state variables (AUC's true/false
    positives and negatives per threshold, Precision's counts, a Mean's total and count, ...).

    On executors, `__call__` (inside tf.function) returns the state after updating the reset
    metrics on a batch; states of disjoint batches and partitions add up (keras_objects.metric_spec
    admits only such metrics), so Spark sums them like gradients. On the driver, `results` puts a
    summed vector into the metrics' variables and returns each metric's `result()`: the value
    Keras computes over all those rows. Both sides build the metrics from the same specs and
    shapes, so their variables line up."""

    def __init__(self, specs, label_shape, output_shape):
        self.metrics = [keras_objects.build_metric(spec, label_shape, output_shape) for spec in specs]
        y_true, y_pred = np.zeros(_example_batch(label_shape), np.float32), np.zeros(_example_batch(output_shape),
                                                                                      np.float32)
        for metric in self.metrics:  # F1Score, R2Score, AUC(multi_label) create variables on the first update
            metric.update_state(y_true, y_pred)
            metric.reset_state()
        self.sizes = [sum(int(np.prod(v.shape)) for v in metric.variables) for metric in self.metrics]
        self.size = sum(self.sizes)

    def __call__(self, y, prediction):
        """(inside tf.function) the metrics' state after one update from zeros, as float64 [size]."""
        parts = []
        for metric in self.metrics:
            state = metric.stateless_update_state([tf.zeros(v.shape, v.dtype) for v in metric.variables], y, prediction)
            parts += [tf.reshape(tf.cast(value, tf.float64), [-1]) for value in state]
        return tf.concat(parts, 0) if parts else tf.zeros([0], tf.float64)

    def results(self, vector: np.ndarray) -> list:
        """Driver: each metric's result() for a summed state vector (zeros when it is empty: no
        rows); a float, or a list for metrics with one value per class (F1Score(average=None))."""
        vector = np.zeros(self.size) if np.size(vector) == 0 else np.asarray(vector, np.float64)
        if vector.size != self.size:
            raise ConfigError(f"the metrics' state has {vector.size} values where the driver's metrics "
                              f"{[m.name for m in self.metrics]} hold {self.size}; a metric's variables depend on a "
                              f"label dimension the driver does not know: give the label column a fixed shape")
        values, start = [], 0
        for metric, size in zip(self.metrics, self.sizes):
            for variable, value in zip(metric.variables, unflatten(vector[start:start + size], metric.variables)):
                variable.assign(value.astype(np.dtype(variable.dtype)))
            start += size
            result = np.asarray(metric.result(), np.float64)
            values.append(float(result) if result.size == 1 else result.tolist())
        return values


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
        self._gradient_sum = self._evaluate = self.metric_state = None

    def _compile(self, y) -> None:
        """Build the metrics for this label shape and the compiled gradient and evaluation functions."""
        if self._gradient_sum is not None:
            return
        model, loss = self.model, self._loss
        with on_device(self.device):
            metric_state = self.metric_state = MetricState(self.metrics, tuple(y.shape),
                                                           tuple(model.outputs[0].shape))

        @tf.function(reduce_retracing=True)
        def gradient_sum(x, y):
            with tf.GradientTape() as tape:
                prediction = model(x, training=True)
                total = _summed_loss(model, loss, y, prediction)
            return tape.gradient(total, model.trainable_variables), total, metric_state(y, prediction)

        @tf.function(reduce_retracing=True)
        def evaluate(x, y):
            prediction = model(x, training=False)
            return _summed_loss(model, loss, y, prediction), metric_state(y, prediction)

        self._gradient_sum, self._evaluate = gradient_sum, evaluate

    def gradient_sums(self, x, y):
        """(flat gradient of the summed loss, loss sum, metric state) over all of x, y."""
        self._compile(y)
        with on_device(self.device):
            gradients, total, metric_state = self._gradient_sum(x, y)
        return flatten([g.numpy() for g in gradients]), float(total), metric_state.numpy()

    def evaluate(self, x, y):
        """(loss sum, metric state) over x, y, without training."""
        self._compile(y)
        with on_device(self.device):
            total, metric_state = self._evaluate(x, y)
        return float(total), metric_state.numpy()

    def local_steps(self, optimizer, optimizer_vector, x, y, batch_size: int):
        """Take one optimizer step per `batch_size` slice of x, y, starting from the optimizer state
        in `optimizer_vector` (see `optimizer_vector`); return (loss sum, metric state summed over
        the steps, each step's with the weights before it, as fit accumulates them). All steps run in
        one compiled loop: no Python between steps."""
        self._compile(y)
        with on_device(self.device):
            steps = self._compiled_steps(optimizer)
            set_optimizer_vector(optimizer, optimizer_vector)
            total, metric_state = steps(x, y, tf.constant(batch_size, tf.int32))
        return float(total), metric_state.numpy()

    def _compiled_steps(self, optimizer):
        """The compiled local-steps loop bound to `optimizer` (built once per optimizer)."""
        if getattr(self, "_steps_for", None) is not optimizer:
            optimizer.build(self.model.trainable_variables)
            model, gradient_sum, size = self.model, self._gradient_sum, self.metric_state.size

            @tf.function(reduce_retracing=True)
            def steps(x, y, batch_size):
                total, sums = tf.constant(0.0), tf.zeros([size], tf.float64)
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
