"""The errors sparkdl raises, all on the driver before any Spark job starts unless noted.

    SparkDLError                      base class: catch this to catch everything from sparkdl
    ├── ConfigError                   an argument has a bad value (batch_size <= 0, bad mapping)
    ├── ModelError
    │   ├── ModelNotFoundError        the model path does not exist or cannot be read
    │   └── ModelFormatError          the path is neither a SavedModel directory nor a .keras file
    ├── SchemaError                   DataFrame columns do not fit the model signature
    ├── TensorError                   a batch's values cannot become a tensor (nulls, ragged rows);
    │                                 raised on executors, surfaces inside Spark's task error
    ├── StorageError                  a file system path is missing, exists already, or is unreachable
    └── SourceUnavailableError        a stream's Kafka broker or topic cannot be reached at start

Every message names the value seen and how to fix it.
"""


class SparkDLError(Exception):
    """Base class of every error raised by sparkdl."""


class ConfigError(SparkDLError, ValueError):
    """An argument has a value sparkdl cannot use."""


class ModelError(SparkDLError):
    """The model cannot be used."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """The model path does not exist or cannot be read."""


class ModelFormatError(ModelError):
    """The path is not a TensorFlow SavedModel directory nor a Keras `.keras` file."""


class SchemaError(SparkDLError, ValueError):
    """The DataFrame's columns do not fit the model's input signature."""


class TensorError(SparkDLError, ValueError):
    """A batch of column values cannot be turned into a tensor."""


class StorageError(SparkDLError, OSError):
    """A path on a file system is missing, exists already, or cannot be reached."""


class SourceUnavailableError(SparkDLError, ConnectionError):
    """The stream's source (a Kafka broker, a topic) cannot be reached when the stream starts."""


def raised_on_executor(error: Exception):
    """The SparkDLError an executor raised inside `error` (Spark's wrapped task failure), or None.

    Lets the driver re-raise, e.g., a TensorError with its own message instead of a Java stack trace.
    """
    import re

    text = str(error)
    for cls in (TensorError, SchemaError, ConfigError, ModelFormatError, ModelNotFoundError, StorageError):
        match = re.search(rf"sparkdl\.errors\.{cls.__name__}: (.*)", text)
        if match:
            return cls(match.group(1).strip())
    return None
