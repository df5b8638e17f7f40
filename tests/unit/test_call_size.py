"""Choosing rows per model call (sparkdl.tf.call_size); no Spark."""
import logging

import numpy as np
import pytest

from sparkdl.tf.call_size import CallSizeTuner


def _run(tuner, rows_per_second, first_call_factor=1.0):
    """Drive `tuner` with a device whose speed at each call size is `rows_per_second(size)`;
    the first call at each size takes `first_call_factor` times longer."""
    seen = set()
    for _ in range(10_000):
        size = tuner.next_size()
        seconds = size / rows_per_second(size) * (1.0 if size in seen else first_call_factor)
        seen.add(size)
        tuner.record(size, seconds)
        if tuner.chosen:
            return tuner.chosen
    raise AssertionError(f"the tuner never settled: {tuner.rates}")


def test_climbs_down_from_256_to_the_peak_and_no_further():
    speeds = {16: 1000, 32: 2300, 64: 2900, 128: 3100, 256: 2600, 512: 2200, 1024: 2100}
    tuner = CallSizeTuner(candidates=tuple(speeds))
    assert _run(tuner, speeds.get) == 128
    assert sorted(tuner.rates) == [64, 128, 256, 512]  # neither 32 nor 1024 was tried
    assert tuner.rates[128] == pytest.approx(3100)


def test_each_comparison_alternates_calls_with_the_fastest_size_so_far():
    tuner = CallSizeTuner()
    while tuner.next_size() == 256:  # 256 alone: one untimed call, then the timed ones
        tuner.record(256, 256 / 100_000)
    sizes = []
    for _ in range(6):
        sizes.append(tuner.next_size())
        tuner.record(sizes[-1], sizes[-1] / 100_000)
    assert sizes == [512, 256, 512, 256, 512, 256]


def test_a_machine_slowing_down_during_the_search_does_not_stop_the_climb():
    """Load that grows while the search runs slows every later call; each comparison times both of
    its sizes under that same load, so 2x faster larger calls still win (rows/s = 1000 * size)."""
    tuner, calls = CallSizeTuner(), 0
    while tuner.chosen is None and calls < 10_000:
        size = tuner.next_size()
        calls += 1
        tuner.record(size, size / (1000.0 * size) * (1 + 0.3 * calls))  # 30% of the first call slower per call
    assert tuner.chosen == 4096


def test_sizes_larger_than_every_batch_are_never_tried():
    """Calls cannot be larger than a batch (CNN images: 2,730 rows per 32 MB batch); a size no call
    can fill would never be timed and the search would never end."""
    tuner = CallSizeTuner()
    tuner.offer(2730)
    assert _run(tuner, lambda size: 1000.0 * size) == 2048
    assert 4096 not in tuner.rates


def test_the_first_call_at_each_size_is_not_timed():
    """The first call at a new shape builds kernels; a slow first call must not count."""
    speeds = {32: 3000, 64: 6000, 128: 5000}
    tuner = CallSizeTuner(candidates=tuple(speeds))
    assert _run(tuner, speeds.get, first_call_factor=100.0) == 64
    assert tuner.rates == pytest.approx(speeds)


def test_the_fastest_timed_call_counts():
    tuner = CallSizeTuner(candidates=(32, 64))
    for seconds in [1.0, 0.04, 0.04, 0.01, 0.04, 0.04, 0.04, 0.04]:  # untimed, then one call undisturbed
        tuner.record(64, seconds)
    assert tuner.rates[64] == pytest.approx(6400)


def test_partial_calls_are_ignored():
    tuner = CallSizeTuner()
    for _ in range(5):
        tuner.record(17, 0.001)  # the last rows of a batch
    assert tuner.next_size() == 256 and tuner.rates == {}


def test_out_of_memory_settles_below_the_failing_size(caplog):
    tuner = CallSizeTuner(candidates=(32, 64, 128), label="m")
    while tuner.next_size() == 64:  # measured at 64, now climbing to 128
        tuner.record(64, 0.01)
    with caplog.at_level(logging.INFO, logger="sparkdl"):
        assert tuner.out_of_memory(128)
    assert tuner.chosen == 64 and tuner.next_size() == 64
    assert "m scores in calls of 64 rows (out of device memory at 128" in caplog.text


def test_out_of_memory_at_the_smallest_size_gives_up():
    assert not CallSizeTuner(candidates=(32, 64)).out_of_memory(32)


def test_real_model_gives_the_same_predictions_whatever_the_call_sizes(mlp, rng):
    """Tuned slicing, fixed slicing and one call agree, and the tuner of the loaded model settles."""
    from sparkdl.model_archive import KERAS
    from sparkdl.tf.model_io import load_model
    from sparkdl.tf.runner import call_size_tuner, predict_in_batches

    model = load_model(str(mlp[1]), KERAS)
    x = {"features": rng.normal(size=(30_000, 8)).astype(np.float32)}
    tuned = predict_in_batches(model, x, None, None)["output_0"]
    np.testing.assert_allclose(tuned, predict_in_batches(model, x, 1000, None)["output_0"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tuned, mlp[0](x["features"]).numpy(), rtol=1e-5, atol=1e-6)
    assert 256 in call_size_tuner(model, None).rates  # the search starts at 256


def test_timed_calls_hold_call_timing_until_the_size_is_chosen(mlp, rng):
    """While a worker searches, each model call holds CALL_TIMING (score_files' reader waits for it);
    once the size is chosen, calls run without it."""
    from sparkdl.model_archive import KERAS
    from sparkdl.tf.call_size import CALL_TIMING
    from sparkdl.tf.model_io import load_model
    from sparkdl.tf.runner import call_size_tuner, predict_in_batches

    class Watched:
        def __init__(self, model):
            self.model, self.held = model, []

        def __call__(self, inputs):
            self.held.append(CALL_TIMING.locked())
            return self.model(inputs)

    model = Watched(load_model(str(mlp[1]), KERAS))
    x = {"features": rng.normal(size=(4096, 8)).astype(np.float32)}
    while call_size_tuner(model, None).searching:
        predict_in_batches(model, x, None, None)
    assert model.held[0] and model.held.count(True) >= 8  # timed: at least two sizes of 1 + 3 calls
    model.held.clear()
    predict_in_batches(model, x, None, None)
    assert model.held and not any(model.held)
    assert not CALL_TIMING.locked()


def test_a_worker_whose_batches_are_smaller_than_4096_rows_settles(mlp, rng):
    from sparkdl.model_archive import KERAS
    from sparkdl.tf.model_io import load_model
    from sparkdl.tf.runner import call_size_tuner, predict_in_batches

    model = load_model(str(mlp[1]), KERAS)
    x = {"features": rng.normal(size=(3000, 8)).astype(np.float32)}
    for _ in range(200):
        predict_in_batches(model, x, None, None)
        if not call_size_tuner(model, None).searching:
            break
    assert call_size_tuner(model, None).chosen <= 2048
