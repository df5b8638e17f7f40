"""Saving a stage with its model: the params as Spark ML metadata, the model under `<path>/model/`.

A stage's `model` param is a path or URI; a keras.Model object given instead is saved at once to
a local temporary `.keras` file (deleted when the driver process exits) whose path the param holds,
so the stage persists like any other. MLflow URIs (`models:/...`, `runs:/...`) are resolved and
downloaded on the driver when the stage is saved, and the saved stage holds the copy.
"""
from __future__ import annotations

import os

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

from .. import fs
from ..errors import ConfigError
from ..runtime import mlflow_models
from ..runtime.models import keras_object_uri


def _model_dir(path: str, model_path: str) -> str:
    return f"{path.rstrip('/')}/model/{os.path.basename(model_path.rstrip('/'))}"


def model_path(value, owner: str):
    """Driver: a path or URI as given; a keras.Model saved to a local temporary .keras file, as its file: URI."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else os.fspath(value)
    from ..tf.keras_objects import is_model

    if not is_model(value):
        raise ConfigError(f"{owner}: model must be a keras.Model or the path or URI of a model, "
                          f"got {type(value).__name__}")
    return keras_object_uri(value, f"sparkdl-{owner.lower()}-")


def local_model(uri: str, spark) -> str:
    """Driver: a local copy of the model at `uri` (any Hadoop URI or MLflow model URI)."""
    if mlflow_models.is_mlflow_uri(uri):
        return mlflow_models.localize(uri)
    return fs.localize(uri, spark)


class ModelCopyWriter(MLWriter):
    """Writes the params and a copy of the stage's `model` (when set) under `<path>/model/<name>`."""

    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        spark = self.sparkSession
        extra = {}
        if self.instance.isDefined(self.instance.model):
            local = local_model(self.instance.getOrDefault(self.instance.model), spark)
            extra["modelPath"] = _model_dir(path, local)
            fs.upload(local, extra["modelPath"], spark)
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sc, extraMetadata=extra)


class ModelCopyReader(MLReader):
    """Loads what ModelCopyWriter wrote; `model` points at the copy, even if `path` was moved."""

    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        instance = self.cls()
        DefaultParamsReader.getAndSetParams(instance, metadata)
        instance._resetUid(metadata["uid"])
        if metadata.get("modelPath"):  # else no copy was saved: the model param stays as it was
            instance._set(model=_model_dir(path, metadata["modelPath"]))
        return instance
