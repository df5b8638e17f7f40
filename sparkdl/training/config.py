"""Driver side: validate `train()` arguments and bind columns to the Keras model, before any job."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Tuple

from pyspark.sql import types as T

from .. import fs
from ..config import positive_int
from ..errors import ConfigError, ModelFormatError, SchemaError
from ..model_archive import KERAS, pack
from ..runtime.schema import check_column
from ..signature import TensorSpec

MODES = ("sync", "average")
METRICS = ("accuracy", "mae", "mse")


def _names(value, what: str) -> Tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value or ())
    names = tuple(n.strip() for name in names for n in str(name).split(",") if n.strip())
    if not names:
        raise ConfigError(f"{what} must name at least one column, got {value!r}")
    return names


@dataclass(frozen=True)
class TrainConfig:
    """Validated `train()` settings."""

    features: Tuple[str, ...]
    label: str
    loss: str
    epochs: int
    batch_size: int
    mode: str
    local_steps: int
    metrics: Tuple[str, ...]
    checkpoint_every: int
    partitions: int

    def __init__(self, *, features, label, loss, epochs, batch_size, mode, local_steps, metrics,
                 checkpoint_every, partitions):
        set_ = object.__setattr__
        set_(self, "features", _names(features, "features"))
        if not isinstance(label, str) or not label:
            raise ConfigError(f"label must be a column name, got {label!r}")
        set_(self, "label", label)
        set_(self, "epochs", positive_int(epochs, "epochs"))
        set_(self, "batch_size", positive_int(batch_size, "batch_size"))
        set_(self, "local_steps", positive_int(local_steps, "local_steps"))
        set_(self, "partitions", positive_int(partitions, "partitions"))
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        set_(self, "mode", mode)
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be an integer >= 0 (0: at epoch ends only), "
                              f"got {checkpoint_every!r}")
        set_(self, "checkpoint_every", checkpoint_every)
        metrics = _names(metrics, "metrics") if metrics else ()
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ConfigError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
        set_(self, "metrics", metrics)
        from ..tf.gradients import get_loss

        try:
            get_loss(loss)
        except (ValueError, TypeError):
            raise ConfigError(f"unknown loss {loss!r}; use a Keras loss name such as 'mse', "
                              f"'binary_crossentropy' or 'sparse_categorical_crossentropy'") from None
        set_(self, "loss", loss)

    @property
    def columns(self) -> Tuple[str, ...]:
        return (*self.features, self.label)


def resolve_keras_model(model, spark):
    """Return (Keras model on the driver, packed archive for executors) for a model or a path."""
    from ..tf import keras_objects

    if keras_objects.is_model(model):
        local = os.path.join(tempfile.mkdtemp(prefix="sparkdl-train-"), "model.keras")
        model.save(local)
        return model, pack(local)
    if isinstance(model, (str, os.PathLike)):
        local = fs.localize(str(model), spark)
        archive = pack(local)
        if archive.kind != KERAS:
            raise ModelFormatError(f"training needs a Keras model (a keras.Model or a .keras file), got the "
                                   f"SavedModel {model!r}; SavedModels can be scored but not trained")
        return keras_objects.load(local), archive
    raise ConfigError(f"model must be a keras.Model or the path of a .keras file, got {type(model).__name__}")


def _spec_of(tensor) -> TensorSpec:
    import numpy as np

    return TensorSpec(tensor.name, tuple(tensor.shape), np.dtype(tensor.dtype).name)


def bind_training_columns(schema: T.StructType, model, config: TrainConfig):
    """Check the feature and label columns against the model; return (feature specs, label spec)."""
    for column in config.columns:
        if column not in schema.names:
            role = "label" if column == config.label else "feature"
            raise SchemaError(f"{role} column '{column}' is not in the DataFrame; its columns are {schema.names}")
    inputs = [_spec_of(t) for t in model.inputs]
    if len(inputs) != len(config.features):
        raise SchemaError(f"the model has {len(inputs)} input(s) {[s.describe() for s in inputs]} but "
                          f"features names {len(config.features)} column(s) {list(config.features)}; "
                          f"give one column per model input")
    bound = []
    for spec, column in zip(inputs, config.features):
        check_column(spec, schema[column])
        bound.append((spec, column))
    label_field = schema[config.label]
    if not isinstance(label_field.dataType, (T.NumericType, T.BooleanType, T.ArrayType)):
        raise SchemaError(f"label column '{config.label}' has type {label_field.dataType.simpleString()}; "
                          f"it must be numeric (index the classes first, e.g. with StringIndexer)")
    output = model.outputs[0]
    depth = 0
    data_type = label_field.dataType
    while isinstance(data_type, T.ArrayType):
        depth, data_type = depth + 1, data_type.elementType
    sparse = config.loss.startswith("sparse_")
    label_shape = (None,) if sparse or depth == 0 else (None, *tuple(output.shape)[1:])
    # float32 labels for every loss: Keras' sparse losses cast class indices themselves, and
    # Spark's indexers produce doubles
    return tuple(bound), TensorSpec(config.label, label_shape, "float32")
