"""--model-fn target for the training job tests: a small regression MLP with fixed initial weights."""
import numpy as np

FEATURES = 6


def build():
    import keras

    keras.utils.set_random_seed(21)
    return keras.Sequential([keras.Input((FEATURES,), name="features"),
                             keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)])


def data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    y = (np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.1 * x[:, 3]).astype(np.float32)
    return x, y
