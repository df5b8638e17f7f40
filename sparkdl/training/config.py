"""Driver side: validate `train()` arguments and bind columns to the Keras model, before any job."""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Tuple

from pyspark.sql import types as T

from .. import fs
from ..config import positive_int
from ..errors import ConfigError, ModelFormatError, SchemaError, reading_model
from ..model_archive import KERAS, pack
from ..runtime import mlflow_models
from ..runtime.load_options import DEFAULT, LoadOptions
from ..runtime.schema import check_column, unwrap_arrays
from ..signature import TensorSpec

log = logging.getLogger(__name__)
MODES = ("sync", "average")


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
    loss: Any  # a picklable loss spec: the name given, a Keras config dict or Pickled (tf.keras_objects)
    epochs: int
    batch_size: int
    mode: str
    local_steps: int
    metrics: Tuple[Any, ...]  # picklable metric specs, in order: names as given, config dicts, Pickled
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
        set_(self, "metrics", _metric_specs(metrics))
        set_(self, "loss", _loss_spec(loss))

    @property
    def columns(self) -> Tuple[str, ...]:
        return (*self.features, self.label)

    @property
    def metric_names(self) -> Tuple[str, ...]:
        """The history key of each metric, in the order of the states ShardTrainer returns: the name
        as given ("accuracy", "mae"), a Metric's `name`, a function's name -- as Keras' fit names them."""
        from ..tf.keras_objects import object_name

        return tuple(object_name(spec) for spec in self.metrics)


def _loss_spec(loss):
    """Driver: the loss as a picklable spec (ConfigError for what Keras' compile would not take)."""
    from pyspark import cloudpickle

    from ..tf.keras_objects import loss_spec

    return loss_spec(loss, cloudpickle.dumps)


def _metric_specs(metrics) -> tuple:
    """Driver: the metrics as picklable specs; names may also come as one comma-separated string."""
    from pyspark import cloudpickle

    from ..tf.keras_objects import metric_spec, object_name

    if isinstance(metrics, dict):
        raise ConfigError(f"metrics must be a list (train supports single-output models), got the dict {metrics!r}")
    values = []
    for value in metrics if isinstance(metrics, (list, tuple)) else [metrics] if metrics else []:
        values += [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else [value]
    specs = tuple(metric_spec(value, cloudpickle.dumps) for value in values)
    names = [object_name(spec) for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"metrics {values!r} give the history key(s) {repeated} more than once; give each "
                          f"metric object a distinct name=")
    return specs


def resolve_keras_model(model, spark, options: LoadOptions = DEFAULT):
    """Return (Keras model on the driver, packed archive for executors) for a model or a path, loaded
    with `options` (custom objects, imports)."""
    from ..tf import keras_objects

    if keras_objects.is_model(model):
        local = os.path.join(tempfile.mkdtemp(prefix="sparkdl-train-"), "model.keras")
        model.save(local)
        return model, pack(local)
    if isinstance(model, (str, os.PathLike)):
        local = mlflow_models.localize(model) if mlflow_models.is_mlflow_uri(model) else fs.localize(str(model), spark)
        with reading_model(model):  # a damaged .keras file: ModelFormatError with the fix, not Keras' error
            archive = pack(local)
            if archive.kind != KERAS:
                raise ModelFormatError(f"training needs a Keras model (a keras.Model or a .keras file), got the "
                                       f"SavedModel {model!r}; SavedModels can be scored but not trained")
            return keras_objects.load(local, options=options), archive
    raise ConfigError(f"model must be a keras.Model or the path of a .keras file, got {type(model).__name__}")


def _spec_of(tensor) -> TensorSpec:
    import numpy as np

    dtype = "string" if str(tensor.dtype) == "string" else np.dtype(tensor.dtype).name
    return TensorSpec(tensor.name, tuple(tensor.shape), dtype)


def _check_single_output(model) -> TensorSpec:
    outputs = [_spec_of(t) for t in model.outputs]
    if len(outputs) != 1:
        raise SchemaError(f"train supports single-output models; this model has {len(outputs)} outputs "
                          f"{[s.describe() for s in outputs]}; train a model with one output (e.g. "
                          f"keras.Model(model.inputs, model.outputs[0])) or concatenate the outputs into one")
    return outputs[0]


def _label_shape(field: T.StructField, output: TensorSpec, kind: str, loss: str) -> tuple:
    """The label tensor's shape for `output` and a loss whose label is "dense" (the output's shape),
    "sparse" (class indices) or "any" (a custom loss); SchemaError when they cannot match."""
    depth, element = unwrap_arrays(field.dataType)
    out = output.inner_shape
    if not isinstance(element, (T.NumericType, T.BooleanType)):
        raise SchemaError(f"label column '{field.name}' has type {field.dataType.simpleString()}; it must be "
                          f"numeric or an array of numbers (index classes first, e.g. with StringIndexer)")
    if depth == 0:
        fits = kind == "any" or (len(out) == 1 if kind == "sparse" else out in ((), (1,)))
        shape = ()
    elif kind == "sparse" or (kind == "any" and depth == len(out) - 1):  # class indices, (b, ..., 1) allowed
        fits, shape = depth in (len(out) - 1, len(out)), (*out[:-1], 1)[:depth]
    elif depth == len(out) or (depth == 1 and len(out) > 1 and None not in out):
        fits, shape = True, out
    else:
        fits, shape = kind == "any", (None,) * depth
    if not fits:
        want = "class indices (a numeric column)" if kind == "sparse" else \
            "a numeric column" if out in ((), (1,)) else f"an array column of shape {out} per row"
        raise SchemaError(f"label column '{field.name}' ({field.dataType.simpleString()}) cannot be the label of "
                          f"model output {output.describe()} with loss {loss!r}, which needs {want}; "
                          f"change the label column, the loss (e.g. 'sparse_categorical_crossentropy' for class "
                          f"indices, 'categorical_crossentropy' for one-hot arrays) or the model's output")
    return (None, *shape)


def warn_untrained_state(model, config: TrainConfig) -> None:
    """Driver: log a warning when `sync` rounds would leave state training updates (BatchNorm
    moving mean/variance) at its initial values. `sync` rounds return only gradients, so such
    variables are NOT updated; `average` rounds average them across partitions like the weights."""
    from ..tf.keras_objects import untrained_state

    paths = untrained_state(model) if config.mode == "sync" else []
    if paths:
        log.warning("the model has %d non-trainable variable(s) that training updates (%s%s); mode='sync' "
                    "rounds update only trainable weights, so they keep their initial values (and BatchNorm's batch "
                    "statistics come from each partition's rows); use mode='average' (which averages them across "
                    "partitions) or recompute them after training", len(paths),
                    ", ".join(paths[:4]), ", ..." if len(paths) > 4 else "")


def bind_training_columns(schema: T.StructType, model, config: TrainConfig):
    """Driver: check the feature and label columns against the model (one output; the label's type
    and shape against the output and loss) before any job; return (feature specs, label spec).
    Warns (logger "sparkdl") when `sync` would leave BatchNorm-like state untrained."""
    from ..tf.keras_objects import label_kind, object_name

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
    output = _check_single_output(model)
    label_shape = _label_shape(schema[config.label], output, label_kind(config.loss), object_name(config.loss))
    warn_untrained_state(model, config)
    # float32 labels for every loss: Keras' sparse losses cast class indices themselves, and
    # Spark's indexers produce doubles
    return tuple(bound), TensorSpec(config.label, label_shape, "float32")
