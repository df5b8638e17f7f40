"""Pure training math: gradient sums over a shard, local SGD steps, optimizer application.

Runs on executors (gradient sums, local steps) and on the driver (applying a mean gradient).
Gradients and weights travel as one flat float32 vector, so Spark sums them with plain numpy.
The loss is summed over examples (not averaged), so partition results add up exactly and the
driver's division by the global count gives the same mean gradient Keras computes on one machine.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf



def get_loss(name: str):
    """The per-example Keras loss function for `name` (ValueError when unknown)."""
    import keras

    fn = keras.losses.get(name)
    if fn is None or not callable(fn):
        raise ValueError(name)
    return fn


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


def set_weights(model, vector: np.ndarray) -> None:
    for variable, value in zip(model.weights, unflatten(vector, model.weights)):
        variable.assign(value)


def _metric_sums(metrics, y, prediction) -> np.ndarray:
    sums = []
    for name in metrics:
        if name == "accuracy":
            if prediction.shape[-1] == 1:
                hits = tf.cast(tf.cast(prediction[:, 0] > 0.5, y.dtype) == tf.reshape(y, [-1]), tf.float32)
            else:
                hits = tf.cast(tf.argmax(prediction, axis=-1) == tf.cast(tf.reshape(y, [-1]), tf.int64), tf.float32)
            sums.append(tf.reduce_sum(hits))
        elif name == "mae":
            sums.append(tf.reduce_sum(tf.reduce_mean(tf.abs(tf.reshape(y, tf.shape(prediction)) - prediction), -1)))
        else:
            sums.append(tf.reduce_sum(tf.reduce_mean(tf.square(tf.reshape(y, tf.shape(prediction)) - prediction), -1)))
    return np.array([float(s) for s in sums], np.float64)


class ShardTrainer:
    """Compiled gradient and evaluation functions for one model and loss (one per Python worker)."""

    def __init__(self, model, loss: str, metrics=()):
        self.model = model
        self.metrics = tuple(metrics)
        loss_fn = get_loss(loss)

        @tf.function(reduce_retracing=True)
        def gradient_sum(x, y):
            with tf.GradientTape() as tape:
                prediction = model(x, training=True)
                total = tf.reduce_sum(loss_fn(y, prediction))
            return tape.gradient(total, model.trainable_variables), total, prediction

        @tf.function(reduce_retracing=True)
        def evaluate(x, y):
            prediction = model(x, training=False)
            return tf.reduce_sum(loss_fn(y, prediction)), prediction

        self._gradient_sum = gradient_sum
        self._evaluate = evaluate

    def gradient_sums(self, x, y):
        """(flat gradient of the summed loss, loss sum, metric sums) over all of x, y."""
        gradients, total, prediction = self._gradient_sum(x, y)
        return flatten([g.numpy() for g in gradients]), float(total), _metric_sums(self.metrics, y, prediction)

    def evaluate(self, x, y):
        """(loss sum, metric sums) over x, y, without training."""
        total, prediction = self._evaluate(x, y)
        return float(total), _metric_sums(self.metrics, y, prediction)

    def local_steps(self, optimizer, x, y, batch_size: int):
        """Take one optimizer step per `batch_size` slice of x, y; return (loss sum, metric sums)."""
        loss_sum, metric_sums = 0.0, np.zeros(len(self.metrics))
        for start in range(0, len(y), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            gradients, total, prediction = self._gradient_sum(xb, yb)
            count = tf.cast(len(yb), tf.float32)
            optimizer.apply_gradients(zip([g / count for g in gradients], self.model.trainable_variables))
            loss_sum += float(total)
            metric_sums += _metric_sums(self.metrics, yb, prediction)
        return loss_sum, metric_sums


def apply_mean_gradient(model, optimizer, gradient_sum: np.ndarray, count: int) -> None:
    """Driver: apply the mean gradient of a round (sum / count) with the Keras optimizer."""
    variables = model.trainable_variables
    gradients = [tf.convert_to_tensor(g) for g in unflatten(gradient_sum / np.float32(count), variables)]
    optimizer.apply_gradients(zip(gradients, variables))


def optimizer_state(optimizer) -> list:
    return [v.numpy() for v in optimizer.variables]


def restore_optimizer(optimizer, model, state: list) -> None:
    optimizer.build(model.trainable_variables)
    for variable, value in zip(optimizer.variables, state):
        variable.assign(value)
