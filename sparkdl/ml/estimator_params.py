"""The Params of `KerasEstimator`: one per `sparkdl.train` setting, camelCase, with a getter and a setter.

Setters go through `setParams`, so every value is checked when it is set.
"""
from __future__ import annotations

from pyspark.ml.param import Param, Params, TypeConverters

from .params import mapping_param, read_mapping

RESUME_VALUES = {"": None, "true": True, "false": False, "force": "force"}
REQUIRED = ("model", "features", "label", "loss")
DEFAULTS = dict(optimizer="sgd", epochs=1, batchSize=256, mode="sync", localSteps=8, metrics="",
                checkpointDir="", checkpointEvery=0, resume="", validationFraction=0.0, partitions=None,
                shuffle=False, seed=0, outputPath="", outputs="", imports=[])


def _param(name: str, doc: str, converter=TypeConverters.toString) -> Param:
    return Param(Params._dummy(), name, doc, typeConverter=converter)


class KerasEstimatorParams(Params):
    """Params of KerasEstimator; see `sparkdl.train` for what each setting does."""

    model = _param("model", "path or URI of the initial .keras model (a keras.Model is saved to a local "
                            "temporary .keras file when set, and this is its path)")
    features = _param("features", "feature column(s), one per model input, comma separated")
    label = _param("label", "label column")
    loss = _param("loss", "Keras loss name, e.g. 'mse' or 'sparse_categorical_crossentropy'")
    optimizer = _param("optimizer", "Keras optimizer name, or its serialized config as a JSON object")
    epochs = _param("epochs", "passes over the data", TypeConverters.toInt)
    batchSize = _param("batchSize", "global batch size: rows per optimizer step over all partitions",
                       TypeConverters.toInt)
    mode = _param("mode", "sync (one global batch per round) or average (model averaging)")
    localSteps = _param("localSteps", "local steps per round in average mode", TypeConverters.toInt)
    metrics = _param("metrics", "metric names, comma separated ('' for none)")
    checkpointDir = _param("checkpointDir", "checkpoint directory URI ('' for none)")
    checkpointEvery = _param("checkpointEvery", "also checkpoint every N rounds (0: at epoch ends only)",
                             TypeConverters.toInt)
    resume = _param("resume", "'' (resume when a checkpoint exists), 'true', 'false' or 'force'")
    validationFraction = _param("validationFraction", "fraction of the fit DataFrame held out (split with "
                                "`seed`) and scored after each epoch; 0: no validation", TypeConverters.toFloat)
    partitions = _param("partitions", "training partitions (unset: Spark's default parallelism)",
                        TypeConverters.toInt)
    shuffle = _param("shuffle", "train in a seeded shuffled order instead of the DataFrame's",
                     TypeConverters.toBoolean)
    seed = _param("seed", "seed of the shuffle and of the validation split", TypeConverters.toInt)
    outputPath = _param("outputPath", "where to save the trained .keras model ('' for a local temporary file)")
    imports = _param("imports", "modules imported on the driver and executors before the model loads (custom "
                                "Keras layers); also set on the returned TFTransformer", TypeConverters.toListString)
    outputs = mapping_param("outputs", "JSON object: model output name -> prediction column of the "
                                       "returned TFTransformer (empty: automatic)")

    def _get(self, param: Param):
        return self.getOrDefault(param) if self.isDefined(param) else None

    def getModel(self):
        """Path or URI of the initial model (None when unset)."""
        return self._get(self.model)

    def setModel(self, value):
        """A path or URI, or a keras.Model (saved now to a temporary .keras file)."""
        return self.setParams(model=value)

    def getFeatures(self):
        return self._get(self.features)

    def setFeatures(self, value):
        return self.setParams(features=value)

    def getLabel(self):
        return self._get(self.label)

    def setLabel(self, value):
        return self.setParams(label=value)

    def getLoss(self):
        return self._get(self.loss)

    def setLoss(self, value):
        return self.setParams(loss=value)

    def getOptimizer(self):
        return self._get(self.optimizer)

    def setOptimizer(self, value):
        return self.setParams(optimizer=value)

    def getEpochs(self):
        return self._get(self.epochs)

    def setEpochs(self, value):
        return self.setParams(epochs=value)

    def getBatchSize(self):
        return self._get(self.batchSize)

    def setBatchSize(self, value):
        return self.setParams(batchSize=value)

    def getMode(self):
        return self._get(self.mode)

    def setMode(self, value):
        return self.setParams(mode=value)

    def getLocalSteps(self):
        return self._get(self.localSteps)

    def setLocalSteps(self, value):
        return self.setParams(localSteps=value)

    def getMetrics(self):
        return self._get(self.metrics)

    def setMetrics(self, value):
        return self.setParams(metrics=value)

    def getCheckpointDir(self):
        return self._get(self.checkpointDir)

    def setCheckpointDir(self, value):
        return self.setParams(checkpointDir=value)

    def getCheckpointEvery(self):
        return self._get(self.checkpointEvery)

    def setCheckpointEvery(self, value):
        return self.setParams(checkpointEvery=value)

    def getResume(self):
        return self._get(self.resume)

    def setResume(self, value):
        return self.setParams(resume=value)

    def getImports(self):
        return self._get(self.imports)

    def setImports(self, value):
        return self.setParams(imports=value)

    def getValidationFraction(self):
        return self._get(self.validationFraction)

    def setValidationFraction(self, value):
        return self.setParams(validationFraction=value)

    def getPartitions(self):
        return self._get(self.partitions)

    def setPartitions(self, value):
        return self.setParams(partitions=value)

    def getShuffle(self):
        return self._get(self.shuffle)

    def setShuffle(self, value):
        return self.setParams(shuffle=value)

    def getSeed(self):
        return self._get(self.seed)

    def setSeed(self, value):
        return self.setParams(seed=value)

    def getOutputPath(self):
        return self._get(self.outputPath)

    def setOutputPath(self, value):
        return self.setParams(outputPath=value)

    def getOutputs(self):
        """{model output name: prediction column}, or None for automatic."""
        return read_mapping(self.getOrDefault(self.outputs))

    def setOutputs(self, value):
        return self.setParams(outputs=value)
