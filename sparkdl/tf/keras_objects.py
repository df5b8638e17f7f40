"""Keras models and optimizers as training needs them (driver and executors)."""
import contextlib

import keras
import tensorflow as tf


def is_model(value) -> bool:
    return isinstance(value, keras.Model)


def on_device(device):
    """A context that places new variables and ops on `device` (None: TensorFlow's default)."""
    return tf.device(device) if device else contextlib.nullcontext()


def load(path: str, device=None):
    """Load a .keras file without its compile state, its variables on `device`."""
    with on_device(device):
        return keras.models.load_model(path, compile=False)


def optimizer(value):
    """A Keras optimizer from an instance, a name ("adam") or a serialized config dict."""
    if isinstance(value, keras.optimizers.Optimizer):
        return value
    if isinstance(value, dict):
        return keras.optimizers.deserialize(value)
    return keras.optimizers.get(value)


def optimizer_config(value) -> dict:
    """A config an executor turns back into the same optimizer with `optimizer(config)`."""
    return keras.optimizers.serialize(value)
