import pytest

from sparkdl.config import PredictConfig, parse_mapping
from sparkdl.errors import ConfigError


@pytest.mark.parametrize("size", [0, -1, 1.5, "8", True])
def test_batch_size_must_be_a_positive_int(size):
    with pytest.raises(ConfigError, match=f"batch_size must be a positive integer, got {size!r}"):
        PredictConfig(batch_size=size)


def test_batch_size_defaults_to_measured_per_worker():
    assert PredictConfig().batch_size is None and PredictConfig(batch_size=None).batch_size is None


def test_mappings_from_dicts_and_cli_strings_agree():
    from_text = parse_mapping("a=x, b=y", "inputs")
    assert from_text == parse_mapping({"b": "y", "a": "x"}, "inputs") == (("a", "x"), ("b", "y"))


@pytest.mark.parametrize("bad", ["a", "a=", "=x", {}, {"a": ""}, ["a"], {"a": "x", "b": "x"}])
def test_bad_mappings_name_the_option(bad):
    with pytest.raises(ConfigError, match="^inputs"):
        parse_mapping(bad, "inputs")


def test_config_is_frozen():
    config = PredictConfig(inputs={"a": "x"})
    with pytest.raises(AttributeError):
        config.batch_size = 2


# --- TrainConfig and bind_training_columns: Keras compile-style arguments, checked on the driver ---

def _train_config(**overrides):
    pytest.importorskip("tensorflow")
    from sparkdl.training.config import TrainConfig

    args = dict(features="features", label="label", loss="mse", epochs=1, batch_size=8, mode="sync", local_steps=2,
                metrics=(), checkpoint_every=0, partitions=2)
    return TrainConfig(**{**args, **overrides})


def _model(outputs=1, activation=None, batchnorm=False):
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(5)(inputs)
    if batchnorm:
        hidden = keras.layers.BatchNormalization()(hidden)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation=activation)(hidden))


def _schema(label_type: str):
    """features array<float> and a label of `label_type` ("double", "array<float>", ...), without Spark."""
    from pyspark.sql import types as T

    atoms = {"double": T.DoubleType(), "float": T.FloatType(), "boolean": T.BooleanType(), "string": T.StringType()}

    def parse(text):
        return T.ArrayType(parse(text[6:-1])) if text.startswith("array<") else atoms[text]

    return T.StructType([T.StructField("features", parse("array<float>")), T.StructField("label", parse(label_type))])


def test_losses_and_metrics_become_picklable_specs_with_keras_history_names():
    import pickle

    import keras

    def hits(y_true, y_pred):
        return keras.ops.cast(keras.ops.abs(y_true - y_pred) < 0.5, "float32")

    config = _train_config(loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1),
                           metrics=["accuracy,mae", keras.metrics.BinaryAccuracy(name="bin"), hits, "auc, precision",
                                    keras.metrics.Precision(thresholds=0.3, name="p30"), "root_mean_squared_error"])
    assert config.metric_names == ("accuracy", "mae", "bin", "hits", "auc", "precision", "p30",
                                   "root_mean_squared_error")
    assert config.metrics[6]["config"]["thresholds"] == 0.3
    assert config.metrics[:2] == ("accuracy", "mae") and config.loss["config"]["label_smoothing"] == 0.1
    assert repr(pickle.loads(pickle.dumps(config.metrics))) == repr(config.metrics)
    assert _train_config(loss="mse", metrics="mse").metric_names == ("mse",)


@pytest.mark.parametrize("overrides, message", [
    (dict(loss="msee"), "unknown loss 'msee'; use a Keras loss name such as 'mse'"),
    (dict(metrics=["accuracy", "f2"]), "unknown metric 'f2'"),
    (dict(metrics={"out": "mae"}), "single-output"),
    (dict(metrics=["mae", "mae"]), r"history key\(s\) \['mae'\] more than once"),
])
def test_bad_losses_and_metrics_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        _train_config(**overrides)


def test_a_metric_with_its_own_update_state_is_a_config_error_naming_it_and_the_supported_kinds():
    import keras

    class LastBatchMax(keras.metrics.Mean):
        def update_state(self, y_true, y_pred, sample_weight=None):
            self.reset_state()
            super().update_state(keras.ops.max(y_pred))

    with pytest.raises(ConfigError, match=r"metric .*\(LastBatchMax\) has its own update_state/reset_state.*"
                                          r"built-in Keras metric \(accuracy, auc, precision"):
        _train_config(metrics=["accuracy", LastBatchMax(name="last_max")])


@pytest.mark.parametrize("label_type, outputs, loss, shape", [
    ("double", 1, "binary_crossentropy", (None,)),           # scalar 0/1 label, (b, 1) sigmoid
    ("double", 3, "sparse_categorical_crossentropy", (None,)),
    ("array<float>", 3, "categorical_crossentropy", (None, 3)),  # one-hot
    ("array<double>", 3, "sparse_categorical_crossentropy", (None, 1)),
    ("boolean", 1, "mse", (None,)),
    ("array<float>", 3, "crossentropy", (None, 3)),
])
def test_label_specs_follow_the_output_and_the_loss(label_type, outputs, loss, shape):
    from sparkdl.training.config import bind_training_columns

    _, label = bind_training_columns(_schema(label_type), _model(outputs), _train_config(loss=loss))
    assert label.shape == shape and label.dtype == "float32"


@pytest.mark.parametrize("label_type, outputs, loss", [
    ("double", 3, "categorical_crossentropy"),      # class indices with a one-hot loss
    ("double", 3, "mse"),
    ("array<array<float>>", 3, "sparse_categorical_crossentropy"),
    ("array<array<float>>", 3, "mse"),
    ("array<string>", 3, "mse"),
])
def test_labels_that_cannot_match_the_output_are_schema_errors_naming_them(label_type, outputs, loss):
    from sparkdl.errors import SchemaError
    from sparkdl.training.config import bind_training_columns

    with pytest.raises(SchemaError, match=r"label column 'label' \(.*\)|label column 'label' has type"):
        bind_training_columns(_schema(label_type), _model(outputs), _train_config(loss=loss))


def test_multi_output_models_are_refused_on_the_driver():
    import keras

    from sparkdl.errors import SchemaError
    from sparkdl.training.config import bind_training_columns

    inputs = keras.Input((4,), name="features")
    model = keras.Model(inputs, [keras.layers.Dense(1)(inputs), keras.layers.Dense(2)(inputs)])
    with pytest.raises(SchemaError, match="train supports single-output models; this model has 2 outputs"):
        bind_training_columns(_schema("double"), model, _train_config())


def test_batchnorm_in_sync_mode_logs_a_driver_warning(caplog):
    from sparkdl.training.config import bind_training_columns

    with caplog.at_level("WARNING", logger="sparkdl"):
        bind_training_columns(_schema("double"), _model(batchnorm=True), _train_config(mode="average"))
        bind_training_columns(_schema("double"), _model(), _train_config())
        assert not caplog.records
        bind_training_columns(_schema("double"), _model(batchnorm=True), _train_config())
    assert len(caplog.records) == 1 and "moving_mean" in caplog.text and "mode='average'" in caplog.text
