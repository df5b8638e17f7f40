"""Saving a stage with its model: the params as Spark ML metadata, the model under `<path>/model/`."""
from __future__ import annotations

import os

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

from .. import fs


def _model_dir(path: str, model_path: str) -> str:
    return f"{path.rstrip('/')}/model/{os.path.basename(model_path.rstrip('/'))}"


class ModelCopyWriter(MLWriter):
    """Writes the params and a copy of the stage's `model` (when set) under `<path>/model/<name>`."""

    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        spark = self.sparkSession
        extra = {}
        if self.instance.isDefined(self.instance.model):
            local = fs.localize(self.instance.getOrDefault(self.instance.model), spark)
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
