"""sparkdl: TensorFlow models on Apache Spark, where the data already lives.

Public API (importing sparkdl does not import TensorFlow; executors import it when they load a
model):

    predict(df, model, *, inputs=None, outputs=None, batch_size=None, keep=None, on_error="raise") -> DataFrame
    image(column, *, size, channels=3, scale=1/255, offset=0.0)         an image column as a model input
    score_files(spark, model, input, output, *, input_format="parquet", keep=None, ...) -> dict
        files -> pyarrow -> model -> Parquet, scheduled by Spark, committed Hadoop-style
    TFTransformer(model=..., inputs=..., outputs=..., batchSize=...)    Spark ML stage
    register_udf(spark, name, model, *, outputs=None, batch_size=None)  Spark SQL function
    model_loads(spark) -> int                                           loads on executors so far
    train(df, model, *, features, label, loss, ...) -> TrainResult      distributed training
    cancel_training(spark, job_group)                                   stop a running train call
    KerasEstimator(...)                                                 Spark ML Estimator -> TFTransformer
    score_stream(spark, model, *, source, sink, checkpoint_location, ...) -> StreamingQuery
        with KafkaSource / FileSource and ParquetSink / KafkaSink / ConsoleSink
    errors: SparkDLError and its subclasses (see sparkdl.errors)
"""
__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ConfigError,
    ModelError,
    ModelFormatError,
    ModelNotFoundError,
    SchemaError,
    SourceUnavailableError,
    SparkDLError,
    StorageError,
    TensorError,
    TrainingCancelledError,
)

__all__ = [
    "__version__", "predict", "image", "score_files", "TFTransformer", "register_udf", "model_loads", "train",
    "TrainResult", "cancel_training",
    "KerasEstimator", "score_stream", "KafkaSource", "FileSource", "ParquetSink", "KafkaSink", "ConsoleSink",
    "SparkDLError", "ConfigError", "ModelError", "ModelNotFoundError", "ModelFormatError",
    "SchemaError", "TensorError", "StorageError", "SourceUnavailableError", "TrainingCancelledError",
]

_LAZY = {
    "predict": ("sparkdl.inference.predict", "predict"),
    "image": ("sparkdl.images", "image"),
    "score_files": ("sparkdl.inference.files", "score_files"),
    "register_udf": ("sparkdl.inference.udf", "register_udf"),
    "model_loads": ("sparkdl.runtime.models", "model_loads"),
    "TFTransformer": ("sparkdl.ml", "TFTransformer"),
    "KerasEstimator": ("sparkdl.ml", "KerasEstimator"),
    "train": ("sparkdl.training.train", "train"),
    "TrainResult": ("sparkdl.training.result", "TrainResult"),
    "cancel_training": ("sparkdl.training.progress", "cancel"),
    "score_stream": ("sparkdl.streaming.score", "score_stream"),
    "KafkaSource": ("sparkdl.streaming.sources", "KafkaSource"),
    "FileSource": ("sparkdl.streaming.sources", "FileSource"),
    "ParquetSink": ("sparkdl.streaming.sinks", "ParquetSink"),
    "KafkaSink": ("sparkdl.streaming.sinks", "KafkaSink"),
    "ConsoleSink": ("sparkdl.streaming.sinks", "ConsoleSink"),
}


def __getattr__(name):
    """Import Spark-facing parts on first use, so `import sparkdl` stays light."""
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sparkdl' has no attribute {name!r}")
