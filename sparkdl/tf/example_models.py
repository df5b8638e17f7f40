"""Small Keras models built in code (no downloads) for the demo, notebooks, benchmarks and tests."""
import keras


def mlp(features: int = 64, classes: int = 10, hidden=(256, 256), seed: int = 1):
    """A dense classifier: features -> hidden... -> softmax(classes)."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((features,), name="features")]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(keras.layers.Dense(classes, activation="softmax"))
    return keras.Sequential(layers)


def cnn(shape=(32, 32, 3), classes: int = 10, filters=(32, 64), dense: int = 128, seed: int = 3):
    """conv -> pool per entry of `filters`, then dense -> classes (the benchmark CNN by default)."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape, name="image")]
    for width in filters:
        layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D()]
    layers += [keras.layers.Flatten(), keras.layers.Dense(dense, activation="relu"), keras.layers.Dense(classes)]
    return keras.Sequential(layers)
