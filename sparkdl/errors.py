"""The errors sparkdl raises, all on the driver before any Spark job starts unless noted.

    SparkDLError                      base class: catch this to catch everything from sparkdl
    ├── ConfigError                   an argument has a bad value (batch_size <= 0, bad mapping)
    ├── ModelError
    │   ├── ModelNotFoundError        the model path does not exist or cannot be read
    │   └── ModelFormatError          the path is neither a SavedModel directory nor a .keras file
    ├── SchemaError                   DataFrame columns do not fit the model signature
    ├── TensorError                   a row's values cannot become a tensor (nulls, ragged rows);
    │                                 raised on executors, surfaces inside Spark's task error
    ├── StorageError                  a path is missing, exists already, is not writable or is unreachable
    ├── SourceUnavailableError        a stream's Kafka broker (source or sink) or topic cannot be reached
    │                                 at start
    └── TrainingCancelledError        a `train` run's Spark job group was cancelled (during the run)

Every message names the value seen and how to fix it.
"""
from contextlib import contextmanager


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
    """Column values cannot be turned into a tensor.

    `row`: the index of the first bad row among the values converted (None when no single row is
    at fault); the scoring loop turns it into the row's partition and position or `keep` columns.
    """

    def __init__(self, message: str, row=None):
        super().__init__(message)
        self.row = row


class StorageError(SparkDLError, OSError):
    """A path on a file system is missing, exists already, or cannot be reached."""


class SourceUnavailableError(SparkDLError, ConnectionError):
    """A stream's Kafka broker (of its source or its sink) or topic cannot be reached when it starts."""


class TrainingCancelledError(SparkDLError):
    """A `train` run's job group was cancelled; its last checkpoint (if any) is left for a resume."""


@contextmanager
def reading_model(uri):
    """Driver: what reading the model at `uri` raises becomes a ModelFormatError with the fix.

    A damaged file fails deep inside Keras or TensorFlow with any exception type (OSError,
    IndexError, a JSON error, ...); the library's words are kept, the type and the fix are sparkdl's.
    """
    try:
        yield
    except ModelFormatError as error:
        if error.__cause__ is None:  # sparkdl's own diagnosis (not a SavedModel, no signature)
            raise
        raise _damaged(uri, error.__cause__) from None
    except SparkDLError:
        raise
    except Exception as error:  # any library error while reading the user's file
        raise _damaged(uri, error) from None


def _damaged(uri, error: Exception) -> ModelFormatError:
    detail = " ".join(str(error).split())[:300]
    return ModelFormatError(f"cannot read model {str(uri)!r}: {type(error).__name__}: {detail}. The file looks damaged "
                            f"or incomplete; save it again with model.save('model.keras') or model.export('dir') "
                            f"and copy all of it")


def raised_on_executor(error: Exception):
    """The SparkDLError an executor raised inside `error` (Spark's wrapped task failure), or None.

    Lets the driver re-raise, e.g., a TensorError with its own message instead of a Java stack trace.
    """
    import re

    text = str(error)
    for cls in (TensorError, SchemaError, ConfigError, ModelFormatError, ModelNotFoundError, StorageError,
                SourceUnavailableError):
        match = re.search(rf"sparkdl\.errors\.{cls.__name__}: (.*)", text)
        if match:
            return cls(match.group(1).strip())
    return None
