"""Training math without Spark: gradient sums, local steps and optimizer state, against plain
TensorFlow/Keras on the same batches."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from sparkdl.tf import gradients  # noqa: E402
from tests import models  # noqa: E402


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=96).astype(np.float32)
    return x, y


def test_gradient_sums_match_gradient_tape_and_add_up_over_shards(problem):
    x, y = problem
    model = models.mlp(8, 3)
    trainer = gradients.ShardTrainer(model, "sparse_categorical_crossentropy", ("accuracy",))
    flat, loss_sum, metric_state = trainer.gradient_sums(x, y)
    with tf.GradientTape() as tape:
        losses = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        total = tf.reduce_sum(losses)
    expected = gradients.flatten([g.numpy() for g in tape.gradient(total, model.trainable_variables)])
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    assert loss_sum == pytest.approx(float(total), rel=1e-5)
    hits = np.argmax(model(x).numpy(), axis=1) == y
    assert list(metric_state) == [hits.sum(), len(y)]  # accuracy's state: its total and count
    first, second = trainer.gradient_sums(x[:40], y[:40])[0], trainer.gradient_sums(x[40:], y[40:])[0]
    np.testing.assert_allclose(first + second, flat, rtol=1e-4, atol=1e-5)


def test_local_steps_equal_keras_steps_and_resume_from_the_optimizer_vector(problem):
    x, y = problem
    reference, model = models.mlp(8, 3), models.mlp(8, 3)
    model.set_weights(reference.get_weights())
    ref_optimizer, optimizer = keras.optimizers.Adam(0.01), keras.optimizers.Adam(0.01)
    ref_optimizer.build(reference.trainable_variables)
    for start in range(0, 96, 32):  # plain Keras: three steps on the mean loss of 32-row slices
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y[start:start + 32], reference(x[start:start + 32], training=True)))
        ref_optimizer.apply_gradients(zip(tape.gradient(loss, reference.trainable_variables),
                                          reference.trainable_variables))
    trainer = gradients.ShardTrainer(model, "sparse_categorical_crossentropy")
    optimizer.build(model.trainable_variables)
    initial = gradients.optimizer_vector(optimizer)
    trainer.local_steps(optimizer, initial, x[:64], y[:64], 32)  # two steps, then one more from the saved state
    state = gradients.optimizer_vector(optimizer)
    trainer.local_steps(optimizer, state, x[64:], y[64:], 32)
    np.testing.assert_allclose(gradients.get_weights(model), gradients.get_weights(reference), rtol=1e-4, atol=1e-6)
    assert int(optimizer.iterations.numpy()) == 3
    gradients.set_optimizer_vector(optimizer, (initial + state) / 2)  # averaged step counts are rounded
    assert int(optimizer.iterations.numpy()) == 1


# --- Keras semantics: losses, metrics and regularization as model.compile / model.fit use them ---

from sparkdl.errors import ConfigError  # noqa: E402
from sparkdl.tf import keras_objects  # noqa: E402


def _dense(outputs: int, activation: str, l2: float = 0.0, seed: int = 5):
    keras.utils.set_random_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    return keras.Sequential([keras.Input((8,), name="features"),
                             keras.layers.Dense(6, activation="tanh", kernel_regularizer=regularizer),
                             keras.layers.Dense(outputs, activation=activation)])


def _tape_sums(model, loss_object, x, y):
    """GradientTape reference: Keras' batch loss (with regularization, as fit) times the rows."""
    with tf.GradientTape() as tape:
        mean = loss_object(y, model(x, training=True)) + sum(model.losses)
        total = mean * len(y)
    return gradients.flatten([g.numpy() for g in tape.gradient(total, model.trainable_variables)]), float(total)


def _binary_problem(rows=64):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(rows, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.float32)  # scalar 0/1 labels, shape (rows,)


def _my_bce(y_true, y_pred):
    return keras.losses.binary_crossentropy(y_true, y_pred)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "crossentropy", keras.losses.BinaryCrossentropy(), _my_bce])
def test_scalar_labels_with_a_sigmoid_output_give_keras_gradients_for_every_loss_form(loss):
    x, y = _binary_problem()
    model = _dense(1, "sigmoid")
    spec = keras_objects.loss_spec(loss)
    flat, loss_sum, _ = gradients.ShardTrainer(model, spec).gradient_sums(x, y)
    expected, total = _tape_sums(model, keras.losses.BinaryCrossentropy(), x, y)
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    assert loss_sum == pytest.approx(total, rel=1e-5)


def test_regularization_losses_enter_the_gradient_and_the_loss_once_per_example():
    x, y = _binary_problem()
    regularized, plain = _dense(1, "sigmoid", l2=0.5), _dense(1, "sigmoid")
    flat, loss_sum, _ = gradients.ShardTrainer(regularized, "binary_crossentropy").gradient_sums(x, y)
    expected, total = _tape_sums(regularized, keras.losses.BinaryCrossentropy(), x, y)
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    assert loss_sum == pytest.approx(total, rel=1e-5)
    assert not np.allclose(flat, gradients.ShardTrainer(plain, "binary_crossentropy").gradient_sums(x, y)[0])
    first, second = (gradients.ShardTrainer(regularized, "binary_crossentropy").gradient_sums(x[s], y[s])[0]
                     for s in (slice(0, 24), slice(24, None)))
    np.testing.assert_allclose(first + second, flat, rtol=1e-4, atol=1e-5)


def _labels(kind, classes=3, rows=90):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(rows, 8)).astype(np.float32)
    index = np.argmax(x[:, :classes], axis=1)
    if kind == "binary":
        return x, (index == 0).astype(np.float32), _dense(1, "sigmoid"), "binary_crossentropy"
    if kind == "sparse":
        return x, index.astype(np.float32), _dense(classes, "softmax"), "sparse_categorical_crossentropy"
    return x, np.eye(classes, dtype=np.float32)[index], _dense(classes, "softmax"), "categorical_crossentropy"


def _rmse_free_error(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


@pytest.mark.parametrize("kind", ["binary", "sparse", "one_hot"])
def test_metric_states_of_two_shards_give_keras_evaluate_over_all_rows(kind):
    x, y, model, loss = _labels(kind)
    by_kind = {"binary": ("mse", keras.metrics.BinaryAccuracy(name="bin"), "auc", keras.metrics.Precision(name="p"),
                          "recall", keras.metrics.SpecificityAtSensitivity(0.5, name="spec")),
               "sparse": ("sparse_categorical_crossentropy", keras.metrics.MeanIoU(3, sparse_y_pred=False, name="iou"),
                          keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")),
               "one_hot": ("mse", keras.metrics.TopKCategoricalAccuracy(k=2, name="top2"), "auc", "f1_score",
                           keras.metrics.F1Score(average="macro", name="f1m"), "root_mean_squared_error", "r2_score")}
    metrics = ["accuracy", *by_kind[kind]]
    if kind == "one_hot":  # a (b,) label and a (b, 1) output would broadcast in the function, in Keras too
        metrics.append(_rmse_free_error)
    specs = [keras_objects.metric_spec(m) for m in metrics]
    trainer = gradients.ShardTrainer(model, loss, specs)
    (first_loss, first), (second_loss, second) = trainer.evaluate(x[:37], y[:37]), trainer.evaluate(x[37:], y[37:])
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    reference.compile(loss=loss, metrics=metrics)
    keras_values = reference.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)
    names = [keras_objects.object_name(s) for s in specs]
    assert set(names) <= set(keras_values), (names, keras_values)
    driver = gradients.MetricState(specs, (None, *y.shape[1:]), tuple(model.outputs[0].shape))
    ours = dict(zip(names, driver.results(first + second)))
    for name in names:
        np.testing.assert_allclose(ours[name], keras_values[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert (first_loss + second_loss) / len(y) == pytest.approx(keras_values["loss"], rel=1e-5)


def _metric_classes():
    import inspect

    return [n for n in dir(keras.metrics) if inspect.isclass(getattr(keras.metrics, n))
            and issubclass(getattr(keras.metrics, n), keras.metrics.Metric) and n != "Metric"]


@pytest.mark.parametrize("name", _metric_classes())
def test_every_keras_metric_class_is_accepted_and_its_state_adds_up_over_disjoint_rows(name):
    """The hypothesis metric_spec's provenance rule rests on: each keras.metrics class's state
    after all rows is the sum of its states after disjoint parts."""
    arguments = {"IoU": dict(num_classes=2, target_class_ids=[0]), "MeanIoU": dict(num_classes=2),
                 "OneHotIoU": dict(num_classes=2, target_class_ids=[0]), "OneHotMeanIoU": dict(num_classes=2),
                 "PrecisionAtRecall": dict(recall=0.5), "RecallAtPrecision": dict(precision=0.5),
                 "SensitivityAtSpecificity": dict(specificity=0.5), "SpecificityAtSensitivity": dict(sensitivity=0.5),
                 "MeanMetricWrapper": dict(fn=keras.losses.mean_squared_error)}
    metric = getattr(keras.metrics, name)(**arguments.get(name, {}))
    assert keras_objects._additive(metric), name
    rng = np.random.default_rng(0)
    y_pred = rng.random((10, 2)).astype(np.float32)
    y_true = rng.random((10, 2)).astype(np.float32) if "Correlation" in name or "R2" in name else \
        (rng.random((10, 2)) > 0.5).astype(np.float32)
    if name in ("SparseCategoricalAccuracy", "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy",
                "MeanIoU", "IoU"):
        y_true = y_true[:, :1]
        y_pred = (y_pred[:, :1] > 0.5).astype(np.float32) if "IoU" in name else y_pred

    def state(rows):
        metric.reset_state()
        metric.update_state(y_true[rows], y_pred[rows])
        return np.concatenate([np.asarray(v.numpy(), np.float64).reshape(-1) for v in metric.variables])

    np.testing.assert_allclose(state(slice(0, 4)) + state(slice(4, None)), state(slice(None)), rtol=1e-5, atol=1e-6)


_RunningMax = models.running_max_metric()


class _ErrorRate(keras.metrics.BinaryAccuracy):
    """A custom subclass that changes only result(): its state is BinaryAccuracy's."""

    def result(self):
        return 1.0 - super().result()


def test_a_custom_update_state_is_refused_naming_the_metric_and_the_supported_kinds():
    with pytest.raises(ConfigError, match=r"metric .*\(_RunningMax\) has its own update_state.*auc.*"
                                          r"overrides only result\(\)"):
        keras_objects.metric_spec(_RunningMax())


def test_a_subclass_that_changes_only_result_gives_its_result_over_two_shards():
    x, y = _binary_problem(40)
    model = _dense(1, "sigmoid")
    from pyspark import cloudpickle  # as TrainConfig sends metrics

    specs = [keras_objects.metric_spec(_ErrorRate(name="error_rate"), cloudpickle.dumps)]
    trainer = gradients.ShardTrainer(model, "binary_crossentropy", specs)
    state = trainer.evaluate(x[:15], y[:15])[1] + trainer.evaluate(x[15:], y[15:])[1]
    (value,) = gradients.MetricState(specs, (None,), (None, 1)).results(state)
    hits = ((model(x).numpy()[:, 0] > 0.5) == y).mean()
    assert value == pytest.approx(1.0 - hits, abs=1e-6)


class _StrictErrorRate(keras.metrics.BinaryAccuracy):
    """Changes only result(), but its own setting is missing from get_config()."""

    def __init__(self, margin=0.25, **kwargs):
        super().__init__(**kwargs)
        self.margin = margin

    def result(self):
        return 1.0 - super().result() + self.margin


def test_a_subclass_whose_config_drops_a_setting_is_refused_naming_it():
    from pyspark import cloudpickle

    keras_objects.metric_spec(_StrictErrorRate(margin=0.25), cloudpickle.dumps)  # the default comes back: fine
    with pytest.raises(ConfigError, match=r"other settings \(margin\).*get_config"):
        keras_objects.metric_spec(_StrictErrorRate(margin=0.5), cloudpickle.dumps)


@pytest.mark.parametrize("name", keras_objects.METRIC_EXAMPLES)
def test_every_advertised_metric_is_accepted(name):
    assert keras_objects.metric_spec(name) == name


def test_unknown_names_and_forms_are_config_errors():
    with pytest.raises(ConfigError, match="unknown loss 'msee'.*'mse'"):
        keras_objects.loss_spec("msee")
    with pytest.raises(ConfigError, match="unknown metric 'accuracyy'"):
        keras_objects.metric_spec("accuracyy")
    with pytest.raises(ConfigError, match="optimizer 'sgdd' is not a Keras optimizer.*'adam'"):
        keras_objects.optimizer("sgdd")
    with pytest.raises(ConfigError, match="optimizer .*'Nope'"):
        keras_objects.optimizer({"class_name": "Nope", "config": {}})
    with pytest.raises(ConfigError, match="reduction='sum'"):
        keras_objects.loss_spec(keras.losses.MeanSquaredError(reduction="sum"))
    with pytest.raises(ConfigError, match="loss must be"):
        keras_objects.loss_spec(3)


def test_specs_pickle_with_a_stable_repr():
    import pickle

    assert keras_objects.loss_spec(keras.losses.BinaryCrossentropy(from_logits=True))["config"]["from_logits"]
    huber = keras_objects.loss_spec(keras.losses.Huber(delta=2.0))  # Keras' config drops delta: pickled
    assert pickle.loads(pickle.dumps(huber)).load()._fn_kwargs == {"delta": 2.0}
    per_example = keras_objects.build_loss(huber)(np.zeros((2, 1)), np.array([[3.0], [-1.0]]))
    assert per_example.numpy() == pytest.approx([4.0, 0.5])
    spec = keras_objects.loss_spec(_my_bce)
    assert isinstance(spec, keras_objects.Pickled) and spec.name == "_my_bce"
    again = pickle.loads(pickle.dumps(spec))
    assert repr(again) == repr(spec) and again.load() is _my_bce


def test_untrained_state_lists_batchnorm_statistics_unless_the_layer_is_frozen():
    keras.utils.set_random_seed(1)
    norm = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), norm, keras.layers.Dense(1)])
    assert sorted(p.rsplit("/", 1)[-1] for p in keras_objects.untrained_state(model)) == ["moving_mean",
                                                                                         "moving_variance"]
    norm.trainable = False
    assert keras_objects.untrained_state(model) == []
    assert keras_objects.untrained_state(_dense(1, "sigmoid")) == []
