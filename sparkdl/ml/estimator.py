"""`KerasEstimator`: `sparkdl.train` as a Spark ML Estimator; `fit` returns a TFTransformer.

A keras.Model given as `model` is saved at once to a local temporary `.keras` file (deleted when
the driver process exits, as is the default `outputPath` of `fit`) and the param
holds that path: Spark ML params must be plain values that persist, the estimator's later fits
start from the same weights (the object is never trained in place), and `write()` copies the file
into the saved stage like any other model path. Changes made to the object after it was set are not
seen; set it again to take them.
"""
from __future__ import annotations

import json
import pathlib

from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter

from ..errors import ConfigError
from ..runtime.models import temporary_dir
from .estimator_params import DEFAULTS, REQUIRED, RESUME_VALUES, KerasEstimatorParams
from .params import apply, converted, mapping_json, merged
from .persistence import ModelCopyReader, ModelCopyWriter, model_path
from .transformer import TFTransformer

# TrainConfig names settings as train() does; the messages here name the Spark ML params
_CAMEL = {"batch_size": "batchSize", "local_steps": "localSteps", "checkpoint_every": "checkpointEvery"}


def _optimizer_json(value):
    """An optimizer name as given; a Keras optimizer object or config dict as its JSON config."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        from ..tf.keras_objects import optimizer_config

        value = optimizer_config(value)
    try:
        return json.dumps(value)
    except TypeError as error:
        raise ConfigError(f"KerasEstimator: the optimizer config {value!r} is not JSON ({error}); "
                          f"give an optimizer name or a JSON-serializable config") from None


def _optimizer(value: str):
    return json.loads(value) if value.lstrip().startswith("{") else value


def _normalized(values: dict) -> dict:
    """Python-friendly values (lists, bools, objects) as the plain strings the params store."""
    values = dict(values)
    for name in ("features", "metrics"):
        if isinstance(values.get(name), (list, tuple)):
            values[name] = ",".join(str(v) for v in values[name])
    if "model" in values:
        values["model"] = model_path(values["model"], "KerasEstimator")
    if "optimizer" in values:
        values["optimizer"] = _optimizer_json(values["optimizer"])
    if isinstance(values.get("resume"), (bool, str)):
        values["resume"] = str(values["resume"]).strip().lower()
    if values.get("outputs") is not None:
        values["outputs"] = mapping_json(values["outputs"], "outputs")
    if isinstance(values.get("imports"), str):
        values["imports"] = [name.strip() for name in values["imports"].split(",") if name.strip()]
    return values


def _check_training_settings(state: dict) -> None:
    """Check the settings with train()'s own TrainConfig; placeholders stand in for unset columns."""
    from ..training.config import TrainConfig

    def given(name, placeholder):
        return placeholder if state.get(name) is None else state[name]

    try:
        TrainConfig(features=given("features", "features"), label=given("label", "label"),
                    loss=given("loss", "mse"), epochs=state["epochs"], batch_size=state["batchSize"],
                    mode=state["mode"], local_steps=state["localSteps"], metrics=state["metrics"],
                    checkpoint_every=state["checkpointEvery"], partitions=given("partitions", 1))
    except ConfigError as error:
        message = str(error)
        for snake, camel in _CAMEL.items():
            message = message.replace(snake, camel)
        raise ConfigError(f"KerasEstimator: {message}") from None


def _check_other_settings(state: dict, changed: dict) -> None:
    if state["resume"] not in RESUME_VALUES:
        raise ConfigError(f"KerasEstimator: resume must be one of {sorted(RESUME_VALUES)} ('': resume when "
                          f"a checkpoint exists), got {state['resume']!r}")
    if not 0.0 <= state["validationFraction"] < 1.0:
        raise ConfigError(f"KerasEstimator: validationFraction must be in [0, 1) (0: no validation), "
                          f"got {state['validationFraction']!r}")
    if changed.get("optimizer") is not None:
        from ..tf.keras_objects import optimizer

        try:
            optimizer(_optimizer(state["optimizer"]))
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"KerasEstimator: unknown optimizer {state['optimizer']!r} ({error}); use a Keras "
                              f"optimizer name such as 'sgd' or 'adam', or its config as JSON") from None


class KerasEstimator(Estimator, KerasEstimatorParams, MLWritable, MLReadable):
    """Trains a Keras model with `sparkdl.train`; `fit(df)` returns a TFTransformer for it.

    KerasEstimator(model=keras_model_or_path, features="features", label="label",
                   loss="sparse_categorical_crossentropy", optimizer="adam", epochs=5, batchSize=1024,
                   mode="sync", validationFraction=0.1, outputPath="hdfs:///models/trained.keras",
                   outputs={"output_0": "proba"}, imports=["my_layers"])

    Every `train()` setting is a camelCase param; `setParams` changes only the params it is given
    (None: back to the default) and values are checked when set. model, features, label and loss
    are required at `fit`. The trained model is saved to `outputPath` (a temporary local file when
    empty) and the returned TFTransformer scores with it.
    """

    @keyword_only
    def __init__(self, *, model=None, features=None, label=None, loss=None, optimizer=None, epochs=None,
                 batchSize=None, mode=None, localSteps=None, metrics=None, checkpointDir=None,
                 checkpointEvery=None, resume=None, validationFraction=None, partitions=None, shuffle=None,
                 seed=None, outputPath=None, outputs=None, imports=None):
        super().__init__()
        self._setDefault(**DEFAULTS)
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, model=None, features=None, label=None, loss=None, optimizer=None, epochs=None,
                  batchSize=None, mode=None, localSteps=None, metrics=None, checkpointDir=None,
                  checkpointEvery=None, resume=None, validationFraction=None, partitions=None, shuffle=None,
                  seed=None, outputPath=None, outputs=None, imports=None):
        """Set the given params only (None: back to the default), after checking the result."""
        values = converted("KerasEstimator", self, _normalized(self._input_kwargs))
        state = merged(self, values)
        _check_training_settings(state)
        _check_other_settings(state, values)
        return apply(self, values)

    def _fit(self, dataset):
        from ..training.train import train

        missing = [name for name in REQUIRED if self._get(self.getParam(name)) is None]
        if missing:
            raise ConfigError(f"KerasEstimator.fit: required param(s) {missing} not set; set them with "
                              f"setParams({', '.join(f'{m}=...' for m in missing)}) or the setters")
        fraction = self.getValidationFraction()
        training_df, validation_df = dataset, None
        if fraction:
            training_df, validation_df = dataset.randomSplit([1.0 - fraction, fraction], seed=self.getSeed())
        result = train(training_df, self.getModel(), validation_df=validation_df, **self._train_kwargs())
        target = self.getOutputPath() or pathlib.Path(temporary_dir("sparkdl-fit-"), "model.keras").as_uri()
        uri = result.save(target, dataset.sparkSession)
        return TFTransformer(model=uri, outputs=self.getOutputs(), imports=self.getImports() or None)

    def _train_kwargs(self) -> dict:
        return dict(features=self.getFeatures(), label=self.getLabel(), loss=self.getLoss(),
                    optimizer=_optimizer(self.getOptimizer()), epochs=self.getEpochs(),
                    batch_size=self.getBatchSize(), mode=self.getMode(), local_steps=self.getLocalSteps(),
                    metrics=self.getMetrics() or (), checkpoint_dir=self.getCheckpointDir() or None,
                    checkpoint_every=self.getCheckpointEvery(), resume=RESUME_VALUES[self.getResume()],
                    partitions=self.getPartitions(), shuffle=self.getShuffle(), seed=self.getSeed(),
                    imports=self.getImports() or None)

    def write(self) -> MLWriter:
        return ModelCopyWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return ModelCopyReader(cls)
