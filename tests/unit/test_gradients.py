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
    flat, loss_sum, metric_sums = trainer.gradient_sums(x, y)
    with tf.GradientTape() as tape:
        losses = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        total = tf.reduce_sum(losses)
    expected = gradients.flatten([g.numpy() for g in tape.gradient(total, model.trainable_variables)])
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    assert loss_sum == pytest.approx(float(total), rel=1e-5)
    hits = np.argmax(model(x).numpy(), axis=1) == y
    assert metric_sums[0] == hits.sum()
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
