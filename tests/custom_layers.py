"""A registered custom Keras layer, shipped to executors as a module (tests of `imports=`)."""
import keras


@keras.saving.register_keras_serializable(package="sparkdl_tests")
class Offset(keras.layers.Layer):
    """Adds a fixed offset: a custom layer Keras can only load when this module was imported."""

    def __init__(self, offset=1.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def call(self, inputs):
        return inputs + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}
