"""Keras models, optimizers, losses and metrics as training needs them.

Losses and metrics take what `model.compile` takes: a name, a Keras object or a function
fn(y_true, y_pred). On the driver, `loss_spec` / `metric_spec` check them and turn them into
picklable values (the name, a Keras config dict, or `Pickled` bytes) that travel to executors,
where `build_loss` / `build_metric` rebuild the Keras objects.
"""
import contextlib
import hashlib
import pickle
import re
import warnings
from dataclasses import dataclass

import keras
import tensorflow as tf

from ..errors import ConfigError

CROSSENTROPY = ("crossentropy", "ce")  # compile's aliases, resolved from the label and output shapes
ACCURACY = ("accuracy", "acc")
LOSS_EXAMPLES = "'mse', 'binary_crossentropy', 'sparse_categorical_crossentropy', keras.losses.Huber()"
METRIC_EXAMPLES = ("accuracy", "auc", "precision", "recall", "root_mean_squared_error", "f1_score",
                   "r2_score", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                   "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mae", "mse", "mape",
                   "msle", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
                   "poisson", "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity")
MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")
# built-in losses whose label has the output's shape ("dense") or drops its class axis ("sparse")
DENSE_LOSSES = {"mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                "mean_squared_logarithmic_error", "cosine_similarity", "huber", "log_cosh", "hinge",
                "squared_hinge", "categorical_hinge", "kl_divergence", "poisson", "categorical_crossentropy",
                "categorical_focal_crossentropy", "binary_crossentropy", "binary_focal_crossentropy"}
SPARSE_LOSSES = {"sparse_categorical_crossentropy"}


def is_model(value) -> bool:
    return isinstance(value, keras.Model)


def on_device(device):
    """A context that places new variables and ops on `device` (None: TensorFlow's default)."""
    return tf.device(device) if device else contextlib.nullcontext()


def load(path: str, device=None, options=None):
    """Load a .keras (or .h5) file without its compile state, its variables on `device`, after
    importing `options.imports` and with `options.custom_objects` (runtime.load_options)."""
    from .keras_files import load_keras_file

    if options is not None:
        options.import_modules()
    with on_device(device):
        return load_keras_file(path, options.objects() if options is not None else {})


def optimizer(value):
    """A Keras optimizer from an instance, a name ("adam") or a serialized config dict
    (driver and executors); ConfigError when Keras cannot build one."""
    if isinstance(value, keras.optimizers.Optimizer):
        return value
    try:
        built = keras.optimizers.deserialize(value) if isinstance(value, dict) else keras.optimizers.get(value)
    except (ValueError, TypeError, KeyError) as error:
        built, reason = None, error
    if not isinstance(built, keras.optimizers.Optimizer):
        raise ConfigError(f"optimizer {value!r} is not a Keras optimizer ({reason if built is None else built!r}); "
                          f"pass a name such as 'sgd' or 'adam', a keras.optimizers.Optimizer, or a config dict "
                          f"such as {{'class_name': 'SGD', 'config': {{'learning_rate': 0.1}}}}")
    return built


def optimizer_config(value) -> dict:
    """A config an executor turns back into the same optimizer with `optimizer(config)`."""
    return keras.optimizers.serialize(value)


def untrained_state(model) -> list:
    """Paths of the non-trainable variables that training updates (BatchNorm moving mean and
    variance, ...): those of layers that are not frozen (a frozen layer's weights stay as they are)."""
    frozen = set()

    def walk(layer):
        if not layer.trainable:
            frozen.update(id(v) for v in layer.weights)
        for child in getattr(layer, "layers", ()):
            walk(child)

    walk(model)
    return [v.path for v in model.non_trainable_weights if id(v) not in frozen]


@dataclass(frozen=True, repr=False)
class Pickled:
    """A loss or metric Keras cannot rebuild from a config (a function, an unregistered class),
    pickled on the driver; its repr is stable, so executors can cache what they build from it."""

    name: str
    payload: bytes

    def __repr__(self) -> str:
        return f"Pickled({self.name!r}, sha256:{hashlib.sha256(self.payload).hexdigest()[:16]})"

    def load(self):
        return pickle.loads(self.payload)


def _snake_case(name: str) -> str:
    """Keras' own spelling of a function or class name as a metric name."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def object_name(value) -> str:
    """The name Keras gives a loss or metric (its history key): a name as given, an object's
    `name`, a function's snake-cased __name__."""
    if isinstance(value, str):
        return value
    if isinstance(value, Pickled):
        return value.name
    if isinstance(value, dict):
        return value["config"]["name"]
    if isinstance(getattr(value, "name", None), str):
        return value.name
    return _snake_case(getattr(value, "__name__", type(value).__name__))


def _keras_get(getter, value: str, what: str, examples: str):
    try:
        found = getter(value)
    except (ValueError, TypeError):
        found = None
    if found is None or not callable(found):
        raise ConfigError(f"unknown {what} {value!r}; use a Keras {what} name such as {examples}, a Keras "
                          f"object or a function fn(y_true, y_pred)")
    return found


def _plain_state(value) -> dict:
    """The plain attributes of a Keras object (name, reduction, the wrapped function's kwargs ...)."""
    plain = (int, float, str, bool, type(None), tuple, dict)
    return {k: v for k, v in getattr(value, "__dict__", {}).items() if isinstance(v, plain)}


def _rebuilds(value, serialize, deserialize):
    """Keras' config of `value` when it rebuilds an equal object (some built-ins drop arguments
    from their config: Huber(delta=2.0) comes back with delta=1.0), else None."""
    try:
        with warnings.catch_warnings():  # e.g. Keras' warning about lambdas: they get pickled instead
            warnings.simplefilter("ignore")
            config = serialize(value)
            rebuilt = deserialize(config)
        return config if type(rebuilt) is type(value) and _plain_state(rebuilt) == _plain_state(value) else None
    except Exception:  # noqa: BLE001 - unregistered classes, arrays in the state, ...: pickle instead
        return None


def _restore(cls, state: dict):
    """Unpickling helper: a Keras object from its class and attributes (Keras' own pickling goes
    through its config, which loses arguments some classes leave out of it)."""
    value = cls.__new__(cls)
    value.__dict__.update(state)
    return value


class _ByState:
    """Pickles a Keras object by class and attributes instead of by config."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return _restore, (type(self.value), dict(self.value.__dict__))


def _from_config(cls, config: dict):
    """Unpickling helper: a Keras object from its class and get_config()."""
    return cls.from_config(config)


class _ByConfig:
    """Pickles a Keras metric by class and get_config(): its attributes hold variables and Keras'
    tracked containers, which do not unpickle."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return _from_config, (type(self.value), self.value.get_config())


def _lost_settings(value, rebuilt) -> list:
    """The plain attributes of `value` that `rebuilt` (from its config) does not have the same."""
    mine, theirs = _plain_state(value), _plain_state(rebuilt)
    return sorted(name for name in mine if theirs.get(name) != mine[name])


def _portable(value, serialize, deserialize, dumps, what: str):
    """Driver: a Keras object as its config dict when Keras rebuilds the same object from it; a
    function, or an object Keras cannot rebuild, as `Pickled` bytes (a metric by class and config,
    a loss by class and attributes), loaded back here once so that executors can load them too."""
    is_object = not isinstance(value, type) and callable(getattr(value, "get_config", None))
    config = _rebuilds(value, serialize, deserialize) if is_object else None
    if config is not None:
        return config
    wrap = (_ByConfig if isinstance(value, keras.metrics.Metric) else _ByState) if is_object else None
    try:
        payload = dumps(wrap(value) if wrap else value)
        loaded = pickle.loads(payload)
    except Exception as error:  # noqa: BLE001 - pickling errors have many types
        raise ConfigError(f"{what} {value!r} cannot be sent to executors: Keras cannot rebuild it from its config "
                          f"and it does not pickle ({type(error).__name__}: {error}); register its class with "
                          f"@keras.saving.register_keras_serializable() and give it a complete get_config(), "
                          f"or pass a plain function") from None
    lost = _lost_settings(value, loaded) if wrap is _ByConfig else []
    if lost:
        raise ConfigError(f"{what} {value!r} comes back from its get_config() with other settings ({', '.join(lost)}), "
                          f"so executors would compute another metric; add those __init__ arguments to its "
                          f"get_config()")
    return Pickled(object_name(value), payload)


def loss_spec(value, dumps=pickle.dumps):
    """Driver: a picklable form of a compile-style loss -- a Keras loss name, a keras.losses.Loss
    (averaged over examples, as Keras' default reduction) or a function fn(y_true, y_pred)
    returning one loss per example. `dumps` pickles functions (Spark's cloudpickle on the driver)."""
    if isinstance(value, str):
        if value.lower() not in CROSSENTROPY:
            _keras_get(keras.losses.get, value, "loss", LOSS_EXAMPLES)
        return value
    if isinstance(value, keras.losses.Loss):
        if value.reduction not in MEAN_REDUCTIONS:
            raise ConfigError(f"loss {value!r} has reduction={value.reduction!r}; sparkdl averages the loss over "
                              f"the examples of a batch, as Keras' default reduction does: create it with "
                              f"reduction='sum_over_batch_size'")
        return _portable(value, keras.losses.serialize, keras.losses.deserialize, dumps, "loss")
    if callable(value) and not isinstance(value, type):
        return _portable(value, keras.losses.serialize, keras.losses.deserialize, dumps, "loss")
    raise ConfigError(f"loss must be a Keras loss name, a keras.losses.Loss or a function fn(y_true, y_pred), "
                      f"got {value!r} ({type(value).__name__}); e.g. {LOSS_EXAMPLES}")


def _additive(metric) -> bool:
    """Whether a metric's state adds up across partitions: the state after updating on all rows
    equals the sum of the states after updating (from the reset state) on disjoint parts.

    Decided by provenance, not by a trial: a metric qualifies when its `update_state` and
    `reset_state` are Keras' own (a function becomes a MeanMetricWrapper, which qualifies). Every
    built-in Keras metric accumulates sums -- totals and counts, confusion-matrix counts per
    threshold, sums of squares -- from zeros (tests/unit/test_gradients.py checks each class of
    keras.metrics on disjoint halves); subclasses that only change `result()` or the wrapped
    function keep that. A trial update on synthetic rows could not reach every branch of a custom
    `update_state` (thresholds, class ids, label values it never saw), so custom state updates
    (a running max, a last value) are refused instead of averaged wrongly."""
    if not isinstance(metric, keras.metrics.Metric):
        return True
    return all(getattr(type(metric), method).__module__.startswith("keras.")
               for method in ("update_state", "reset_state"))


def metric_spec(value, dumps=pickle.dumps):
    """Driver: a picklable form of a compile-style metric -- any Keras metric name ("auc",
    "precision", "root_mean_squared_error", ...), a keras.metrics.Metric whose state Keras updates
    (built-in classes and subclasses that change only `result()` or the wrapped function) or a
    function fn(y_true, y_pred). Each partition returns the metric's state variables, the driver
    adds them and calls `result()` (see `_additive`); other metrics are ConfigErrors."""
    if isinstance(value, str):
        metric = None if value.lower() in ACCURACY else _keras_get(
            keras.metrics.get, value, "metric", ", ".join(repr(m) for m in METRIC_EXAMPLES[:8]))
    elif isinstance(value, keras.metrics.Metric) or (callable(value) and not isinstance(value, type)):
        metric = value
    else:
        raise ConfigError(f"metrics must be Keras metric names, keras.metrics.Metric objects or functions "
                          f"fn(y_true, y_pred), got {value!r} ({type(value).__name__})")
    if metric is not None and not _additive(metric):
        raise ConfigError(f"metric {value!r} ({type(metric).__name__}) has its own update_state/reset_state, so "
                          f"sparkdl cannot tell whether its state adds up across partitions (it adds each "
                          f"partition's metric variables, then calls result()); use a built-in Keras metric "
                          f"({', '.join(METRIC_EXAMPLES[:8])}, ...), a keras.metrics.Metric subclass that overrides "
                          f"only result(), a keras.metrics.MeanMetricWrapper, or a function fn(y_true, y_pred) "
                          f"returning one value per example; or compute {object_name(metric)} on predictions after "
                          f"training (result.model or sparkdl.predict)")
    if isinstance(value, str):
        return value
    return _portable(value, keras.metrics.serialize, keras.metrics.deserialize, dumps, "metric")


def label_kind(loss) -> str:
    """Driver: how a loss spec's label relates to the model output -- "dense" (same shape),
    "sparse" (class indices: the output's shape without its class axis) or "any" (unknown)."""
    if isinstance(loss, Pickled) or (isinstance(loss, str) and loss.lower() in CROSSENTROPY):
        return "any"
    value = keras.losses.deserialize(loss) if isinstance(loss, dict) else \
        keras.losses.get(loss) if isinstance(loss, str) else loss
    name = getattr(getattr(value, "fn", value), "__name__", "")
    is_keras = getattr(keras.losses, name, None) is getattr(value, "fn", value)
    return "sparse" if is_keras and name in SPARSE_LOSSES else "dense" if is_keras and name in DENSE_LOSSES else "any"


def same_rank(y_true, y_pred):
    """Keras' alignment of a label and a prediction whose ranks differ by a trailing 1-dim
    (a (b,) label with a (b, 1) output), as compile applies to loss functions."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        return (y_true, tf.expand_dims(y_pred, -1)) if pred_rank == 1 else (tf.squeeze(y_true, -1), y_pred)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        return (tf.expand_dims(y_true, -1), y_pred) if true_rank == 1 else (y_true, tf.squeeze(y_pred, -1))
    return y_true, y_pred


def _crossentropy(y_true, y_pred):
    """compile's "crossentropy": binary, sparse or categorical from the shapes (before alignment)."""
    if y_pred.shape[-1] == 1:
        return keras.losses.binary_crossentropy(*same_rank(y_true, y_pred))
    if len(y_true.shape) < len(y_pred.shape) or y_true.shape[-1] == 1:
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    return keras.losses.categorical_crossentropy(y_true, y_pred)


class FunctionLoss(keras.losses.Loss):
    """A function fn(y_true, y_pred) as a Loss with one value per example, ranks aligned as
    compile's wrapper does."""

    def __init__(self, fn, name=None, align=True):
        # the name opens a TensorFlow name scope, which must start with a letter, digit or dot
        super().__init__(name=re.sub(r"^[^A-Za-z0-9.]+", "", name or object_name(fn)) or "loss", reduction="none")
        self.fn, self.align = fn, align

    def call(self, y_true, y_pred):
        return self.fn(*same_rank(y_true, y_pred)) if self.align else self.fn(y_true, y_pred)


def build_loss(spec):
    """Executor: the Keras loss for a spec from `loss_spec` (or any compile-style loss), with
    reduction "none": it returns the loss of each example."""
    if isinstance(spec, keras.losses.Loss):
        spec = loss_spec(spec)  # a fresh copy, so that setting its reduction leaves the caller's alone
    value = spec.load() if isinstance(spec, Pickled) else spec
    if isinstance(value, dict):
        value = keras.losses.deserialize(value)
    elif isinstance(value, str):
        value = FunctionLoss(_crossentropy, value, align=False) if value.lower() in CROSSENTROPY \
            else keras.losses.get(value)
    if not isinstance(value, keras.losses.Loss):
        return FunctionLoss(value)
    value.reduction = "none"
    return value


def build_metric(spec, label_shape, output_shape):
    """Executor: the Keras metric for a spec from `metric_spec`; "accuracy" resolves as in compile
    (binary for a (b, 1) output, sparse categorical for class indices, else categorical)."""
    value = spec.load() if isinstance(spec, Pickled) else spec
    if isinstance(value, dict):
        return keras.metrics.deserialize(value)
    if isinstance(value, str) and value.lower() in ACCURACY:
        if output_shape[-1] == 1:
            return keras.metrics.BinaryAccuracy(name=value)
        if len(label_shape) < len(output_shape) or label_shape[-1] == 1:
            return keras.metrics.SparseCategoricalAccuracy(name=value)
        return keras.metrics.CategoricalAccuracy(name=value)
    metric = keras.metrics.get(value) if isinstance(value, str) else value
    if not isinstance(metric, keras.metrics.Metric):
        metric = keras.metrics.MeanMetricWrapper(metric, name=object_name(value))
    return metric
