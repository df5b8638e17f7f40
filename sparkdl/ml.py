"""Spark ML wrappers (driver side): `TFTransformer` scores inside a `Pipeline` and persists with it;
`KerasEstimator` trains with `sparkdl.train` and returns a TFTransformer.

Saving a TFTransformer copies the model itself into `<path>/model/` next to the params, so a saved
Pipeline is self-contained: it loads and scores on another cluster even when the original model
path is gone.
"""
from __future__ import annotations

import json
import os
import tempfile

from pyspark.ml import Estimator, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter

from . import fs
from .config import PredictConfig
from .inference.predict import predict


def _mapping_param(name: str, doc: str) -> Param:
    return Param(Params._dummy(), name, doc, typeConverter=TypeConverters.toString)


class TFTransformer(Transformer, MLWritable, MLReadable):
    """Adds model predictions to a DataFrame, like `sparkdl.predict`, as a Pipeline stage.

    TFTransformer(model="hdfs:///models/m.keras", inputs={"x": "features"}, outputs=None, batchSize=None)
    """

    model = Param(Params._dummy(), "model", "path or URI of a SavedModel directory or .keras file",
                  typeConverter=TypeConverters.toString)
    inputs = _mapping_param("inputs", "JSON object: model input name -> column (empty: automatic)")
    outputs = _mapping_param("outputs", "JSON object: model output name -> new column (empty: automatic)")
    batchSize = Param(Params._dummy(), "batchSize", "rows per model call (unset: measured per worker)",
                      typeConverter=TypeConverters.toInt)

    def __init__(self, model=None, inputs=None, outputs=None, batchSize=None):
        super().__init__()
        self._setDefault(inputs="", outputs="", batchSize=None)
        self.setParams(model=model, inputs=inputs, outputs=outputs, batchSize=batchSize)

    def setParams(self, model=None, inputs=None, outputs=None, batchSize=None):
        """Set the params; mappings are validated now, the model when the stage runs."""
        config = PredictConfig(inputs=inputs, outputs=outputs, batch_size=batchSize)
        if model is not None:
            self._set(model=str(model))
        self._set(inputs=json.dumps(dict(config.inputs or ())), outputs=json.dumps(dict(config.outputs or ())))
        if config.batch_size is None:
            self.clear(self.batchSize)  # the default, None: measured per worker (Spark ML cannot set None)
        else:
            self._set(batchSize=config.batch_size)
        return self

    def _mapping(self, param):
        return json.loads(self.getOrDefault(param) or "{}") or None

    def _transform(self, dataset):
        return predict(dataset, self.getOrDefault(self.model), inputs=self._mapping(self.inputs),
                       outputs=self._mapping(self.outputs), batch_size=self.getOrDefault(self.batchSize))

    def write(self) -> MLWriter:
        return _TFTransformerWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _TFTransformerReader(cls)


class _TFTransformerWriter(MLWriter):
    """Writes the params as Spark ML metadata and the model under <path>/model/<name>."""

    def __init__(self, instance: TFTransformer):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        spark = self.sparkSession
        source = self.instance.getOrDefault(self.instance.model)
        local = fs.localize(source, spark)
        target = f"{path.rstrip('/')}/model/{os.path.basename(local.rstrip('/'))}"
        fs.upload(local, target, spark)
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sc, extraMetadata={"modelPath": target})


class _TFTransformerReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> TFTransformer:
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        instance = self.cls()
        DefaultParamsReader.getAndSetParams(instance, metadata)
        instance._resetUid(metadata["uid"])
        saved = metadata.get("modelPath") or metadata["paramMap"]["model"]
        return instance._set(model=_relocated(saved, path))


def _relocated(saved_model_path: str, path: str) -> str:
    """The model inside the saved stage at `path`, even if the stage directory was moved."""
    return f"{path.rstrip('/')}/model/{os.path.basename(saved_model_path.rstrip('/'))}"



class KerasEstimator(Estimator, MLWritable, MLReadable):
    """Trains a Keras model with `sparkdl.train`; `fit(df)` returns a TFTransformer for it.

    KerasEstimator(model="hdfs:///models/init.keras", features="features", label="label",
                   loss="sparse_categorical_crossentropy", optimizer="adam", epochs=5, batchSize=1024,
                   mode="sync", outputPath="hdfs:///models/trained.keras", outputs={"output_0": "proba"})

    The trained model is saved to `outputPath` (a temporary local file when empty) and the returned
    TFTransformer scores with it; saving that transformer copies the model into the pipeline.
    """

    model = Param(Params._dummy(), "model", "path or URI of the initial .keras model", TypeConverters.toString)
    features = Param(Params._dummy(), "features", "feature column(s), comma separated", TypeConverters.toString)
    label = Param(Params._dummy(), "label", "label column", TypeConverters.toString)
    loss = Param(Params._dummy(), "loss", "Keras loss name", TypeConverters.toString)
    optimizer = Param(Params._dummy(), "optimizer", "Keras optimizer name or JSON config", TypeConverters.toString)
    epochs = Param(Params._dummy(), "epochs", "passes over the data", TypeConverters.toInt)
    batchSize = Param(Params._dummy(), "batchSize", "global batch size", TypeConverters.toInt)
    mode = Param(Params._dummy(), "mode", "sync or average", TypeConverters.toString)
    localSteps = Param(Params._dummy(), "localSteps", "local steps per round in average mode", TypeConverters.toInt)
    checkpointDir = Param(Params._dummy(), "checkpointDir", "checkpoint directory URI ('' for none)",
                          TypeConverters.toString)
    outputPath = Param(Params._dummy(), "outputPath", "where to save the trained .keras model", TypeConverters.toString)
    outputs = _mapping_param("outputs", "JSON object: model output name -> prediction column")

    def __init__(self, **kwargs):
        super().__init__()
        self._setDefault(optimizer="sgd", epochs=1, batchSize=256, mode="sync", localSteps=8, checkpointDir="",
                         outputPath="", outputs="")
        if "outputs" in kwargs:
            kwargs["outputs"] = json.dumps(dict(PredictConfig(outputs=kwargs["outputs"]).outputs or ()))
        self._set(**kwargs)

    def _optimizer(self):
        value = self.getOrDefault(self.optimizer)
        return json.loads(value) if value.lstrip().startswith("{") else value

    def _fit(self, dataset):
        from .training.train import train

        get = self.getOrDefault
        result = train(dataset, get(self.model), features=get(self.features), label=get(self.label),
                       loss=get(self.loss), optimizer=self._optimizer(), epochs=get(self.epochs),
                       batch_size=get(self.batchSize), mode=get(self.mode), local_steps=get(self.localSteps),
                       checkpoint_dir=get(self.checkpointDir) or None)
        target = get(self.outputPath) or os.path.join(tempfile.mkdtemp(prefix="sparkdl-fit-"), "model.keras")
        uri = result.save(target, dataset.sparkSession)
        transformer = TFTransformer(model=uri, outputs=json.loads(get(self.outputs) or "{}") or None)
        return transformer

    def write(self) -> MLWriter:
        return DefaultParamsWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return DefaultParamsReader(cls)
