"""`TFTransformer`: `sparkdl.predict` as a Spark ML Pipeline stage that saves and loads with its model."""
from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter

from ..config import PredictConfig
from ..errors import ConfigError
from .params import apply, converted, mapping_json, mapping_param, read_mapping
from .persistence import ModelCopyReader, ModelCopyWriter, model_path


class TFTransformer(Transformer, MLWritable, MLReadable):
    """Adds model predictions to a DataFrame, like `sparkdl.predict`, as a Pipeline stage.

    TFTransformer(model="hdfs:///models/m.keras", inputs={"x": "features"}, outputs=None, batchSize=None,
                  imports=None, signature=None)

    model: a SavedModel directory or .keras file (any Hadoop URI), an MLflow model URI
    (`models:/name@alias`, ...: resolved when the stage runs, and again when it is saved, which
    copies that version into the saved stage), or a keras.Model object, saved on the driver to a
    temporary .keras file whose path the param holds (later changes to the object are not seen).

    imports (modules to import before loading, e.g. custom Keras layers) and signature (the
    SavedModel signature key) are the loading options of `sparkdl.predict` and are saved with the
    stage; custom_objects cannot be saved, so register custom layers in a module named in imports.

    inputs/outputs take a dict, "name=column,..." or a JSON object; they are stored as JSON.
    `setParams` changes only the params it is given; None puts one back to its default.
    """

    model = Param(Params._dummy(), "model", "path or URI of a SavedModel directory or .keras file",
                  typeConverter=TypeConverters.toString)
    inputs = mapping_param("inputs", "JSON object: model input name -> column (empty: automatic)")
    outputs = mapping_param("outputs", "JSON object: model output name -> new column (empty: automatic)")
    batchSize = Param(Params._dummy(), "batchSize", "rows per model call (unset: measured per worker)",
                      typeConverter=TypeConverters.toInt)
    imports = Param(Params._dummy(), "imports", "modules imported on the driver and executors before loading",
                    typeConverter=TypeConverters.toListString)
    signature = Param(Params._dummy(), "signature", "SavedModel signature key (empty: serving_default)",
                      typeConverter=TypeConverters.toString)

    @keyword_only
    def __init__(self, *, model=None, inputs=None, outputs=None, batchSize=None, imports=None, signature=None):
        super().__init__()
        self._setDefault(inputs="", outputs="", batchSize=None, imports=[], signature="")
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, model=None, inputs=None, outputs=None, batchSize=None, imports=None, signature=None):
        """Set the given params only; mappings and batchSize are checked now, the model when the stage runs."""
        values = dict(self._input_kwargs)
        if values.get("model") is not None:
            values["model"] = model_path(values["model"], "TFTransformer")
        for name in ("inputs", "outputs"):
            if values.get(name) is not None:
                values[name] = mapping_json(values[name], name)
        values = converted("TFTransformer", self, values)
        PredictConfig(batch_size=values.get("batchSize"))
        return apply(self, values)

    def getModel(self):
        """The model's path or URI (None when unset)."""
        return self.getOrDefault(self.model) if self.isDefined(self.model) else None

    def setModel(self, value):
        return self.setParams(model=value)

    def getInputs(self):
        """{model input name: column}, or None for automatic."""
        return read_mapping(self.getOrDefault(self.inputs))

    def setInputs(self, value):
        return self.setParams(inputs=value)

    def getOutputs(self):
        """{model output name: new column}, or None for automatic."""
        return read_mapping(self.getOrDefault(self.outputs))

    def setOutputs(self, value):
        return self.setParams(outputs=value)

    def getBatchSize(self):
        """Rows per model call, or None: each Python worker measures its own."""
        return self.getOrDefault(self.batchSize)

    def setBatchSize(self, value):
        return self.setParams(batchSize=value)

    def _transform(self, dataset):
        from ..inference.predict import predict

        if self.getModel() is None:
            raise ConfigError("TFTransformer has no model; set it with setModel('<path or URI>')")
        return predict(dataset, self.getModel(), inputs=self.getInputs(), outputs=self.getOutputs(),
                       batch_size=self.getBatchSize(), imports=self.getOrDefault(self.imports) or None,
                       signature=self.getOrDefault(self.signature) or None)

    def write(self) -> MLWriter:
        return ModelCopyWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return ModelCopyReader(cls)
