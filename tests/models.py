"""Tiny Keras models for tests, saved as .keras and as SavedModel."""
from pathlib import Path

from sparkdl.tf import example_models


def mlp(features: int, classes: int, hidden: int = 16, seed: int = 1):
    return example_models.mlp(features, classes, hidden=(hidden,), seed=seed)


def cnn(shape, classes: int, seed: int = 3):
    return example_models.cnn(shape, classes, filters=(4,), dense=8, seed=seed)


def multi_io(seed: int = 2):
    """Inputs a: float[4], b: float[2, 3]; outputs score: float[2], grid: float[2, 2]."""
    import keras

    keras.utils.set_random_seed(seed)
    a = keras.Input((4,), name="a")
    b = keras.Input((2, 3), name="b")
    hidden = keras.layers.Concatenate()([a, keras.layers.Flatten()(b)])
    score = keras.layers.Dense(2, name="score")(hidden)
    grid = keras.layers.Reshape((2, 2), name="grid")(keras.layers.Dense(4)(hidden))
    return keras.Model([a, b], [score, grid])


def save_both(model, stem: Path):
    """Save `model` as <stem>.keras and <stem>_savedmodel/; return (model, keras path, savedmodel dir)."""
    keras_path = f"{stem}.keras"
    saved_dir = f"{stem}_savedmodel"
    model.save(keras_path)
    model.export(saved_dir, verbose=False)
    return model, keras_path, saved_dir


def running_max_metric():
    """A custom keras.metrics.Metric class whose state (a running maximum) does not add up across
    partitions, so sparkdl.train must refuse it."""
    import keras

    class _RunningMax(keras.metrics.Metric):
        def __init__(self, name="running_max", **kwargs):
            super().__init__(name=name, **kwargs)
            self.top = self.add_variable(shape=(), initializer="zeros", name="top")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.top.assign(keras.ops.maximum(self.top, keras.ops.max(y_pred)))

        def result(self):
            return self.top

    return _RunningMax
