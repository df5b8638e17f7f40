"""sparkdl.train and jobs/train.py fail before any Spark job, with one clear SparkDLError, and leave
no partial checkpoint: an unwritable checkpoint_dir or --output directory, a bad --optimizer, a
damaged .keras model; a checkpoint write failing mid-run, a killed run's `_tmp-ckpt-*` copies."""
import os
import uuid

import numpy as np
import pytest

import sparkdl
from sparkdl import _cli, fs
from sparkdl.errors import ConfigError, ModelFormatError, StorageError
from tests.unit.test_job_flags import load_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(spark, tmp_path_factory):
    """(root, training DataFrame, its Parquet path, a .keras model path, its bytes)."""
    root = tmp_path_factory.mktemp("fail_early")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.float64)
    df = spark.createDataFrame([(x[i].tolist(), float(y[i])) for i in range(64)], "features array<float>, label double")
    data = str(root / "data")
    df.write.parquet(data)
    model = _mlp()
    path = root / "model.keras"
    model.save(path)
    return root, df, data, str(path), path.read_bytes()


def _mlp():
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(4, activation="tanh"),
                             keras.layers.Dense(2, activation="softmax")])


def _jobs_started(spark, call):
    """Run `call()` under a fresh job group; (its exception or None, ids of the Spark jobs it started)."""
    sc, group = spark.sparkContext, f"fail-early-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, "test: train must fail before any job")
    try:
        call()
        error = None
    except Exception as raised:  # the test asserts on it
        error = raised
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return error, list(sc.statusTracker().getJobIdsForGroup(group))


def test_the_job_probe_sees_jobs(spark, setup):
    """The check used below does see a job started inside it (so 'no job' means none ran)."""
    _, df, *_ = setup
    error, jobs = _jobs_started(spark, df.count)
    assert error is None and jobs


def _train(df, model, **kwargs):
    return lambda: sparkdl.train(df, model, features="features", label="label",
                                 loss="sparse_categorical_crossentropy", batch_size=16, **kwargs)


def test_unwritable_checkpoint_dir_fails_before_any_job(spark, setup):
    root, df, _, keras_path, _ = setup
    (root / "a_file").write_text("not a directory")
    bad = str(root / "a_file" / "ckpt")
    error, jobs = _jobs_started(spark, _train(df, keras_path, checkpoint_dir=bad))
    assert isinstance(error, StorageError), repr(error)
    assert str(error).startswith(f"checkpoint_dir {bad!r} is not writable (")
    assert "fix its permissions or free space, or choose another path" in str(error)
    assert jobs == [] and (root / "a_file").read_text() == "not a directory"


@pytest.mark.parametrize("damage", ["cut_short", "not_a_zip"])
def test_damaged_keras_model_fails_before_any_job(spark, setup, damage):
    root, df, _, _, good = setup
    damaged = root / f"{damage}.keras"
    damaged.write_bytes(good[:1500] if damage == "cut_short" else b"garbage" * 40)
    error, jobs = _jobs_started(spark, _train(df, str(damaged), checkpoint_dir=str(root / f"ckpt-{damage}")))
    assert isinstance(error, ModelFormatError), repr(error)
    assert str(error).startswith(f"cannot read model {str(damaged)!r}: ValueError: ")
    assert "looks damaged or incomplete; save it again with model.save('model.keras')" in str(error)
    assert jobs == [] and not (root / f"ckpt-{damage}").exists()


def test_bad_optimizer_config_fails_before_any_job(spark, setup):
    _, df, _, keras_path, _ = setup
    error, jobs = _jobs_started(spark, _train(df, keras_path, optimizer={"class_name": "Adamm", "config": {}}))
    assert isinstance(error, ConfigError), repr(error)
    assert "optimizer {'class_name': 'Adamm', 'config': {}} is not a Keras optimizer" in str(error)
    assert "pass a name such as 'sgd' or 'adam'" in str(error) and jobs == []


def test_failed_checkpoint_write_mid_run_leaves_only_complete_checkpoints(spark, setup, monkeypatch):
    """The disk fills at the second checkpoint: a StorageError naming it and the fix; the first
    checkpoint is intact, no `_tmp-ckpt-*` is left, and rerunning resumes from the first one."""
    root, df, _, keras_path, _ = setup
    directory = str(root / "ckpt-full")
    rename, calls = fs.rename, []

    def fills_up(uri, target, spark=None):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return rename(uri, target, spark)

    monkeypatch.setattr(fs, "rename", fills_up)
    with pytest.raises(StorageError, match=rf"cannot write checkpoint '{directory}/ckpt-0+8': OSError: \[Errno 28\] "
                                           r"No space left on device; free space or fix the permissions"):
        _train(df, keras_path, checkpoint_dir=directory, epochs=3)()
    monkeypatch.undo()
    assert sorted(os.listdir(directory)) == ["ckpt-000000004"]
    result = _train(df, keras_path, checkpoint_dir=directory, epochs=3)()
    assert len(result.history) == 3 and not [n for n in os.listdir(directory) if n.startswith("_tmp-")]


def test_partial_checkpoint_of_a_killed_run_is_deleted_at_the_next_start(spark, setup):
    root, df, _, keras_path, _ = setup
    directory = root / "ckpt-killed"
    (directory / "_tmp-ckpt-000000004-0badc0de").mkdir(parents=True)
    (directory / "_tmp-ckpt-000000004-0badc0de" / "state.npz").write_bytes(b"half written")
    result = _train(df, keras_path, checkpoint_dir=str(directory))()
    assert len(result.history) == 1 and sorted(os.listdir(directory)) == ["ckpt-000000004"]


def _job(argv, capsys):
    code = _cli.run(load_job("train").main, [str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("case", ["checkpoint_dir", "output", "damaged_model", "optimizer_json", "bad_label"])
def test_job_fails_before_training_with_one_line_and_exit_2(spark, setup, capsys, case):
    root, _, data, keras_path, good = setup
    (root / "blocker").write_text("a file")
    damaged = root / "job-damaged.keras"
    damaged.write_bytes(good[:1500])
    output = root / "blocker" / "out.keras" if case == "output" else root / f"job-{case}.keras"
    argv = ["--model", damaged if case == "damaged_model" else keras_path, "--input", data, "--features", "features",
            "--label", "nope" if case == "bad_label" else "label", "--loss", "sparse_categorical_crossentropy",
            "--output", output,
            "--checkpoint-dir", root / "blocker" / "ckpt" if case == "checkpoint_dir" else root / f"job-ckpt-{case}",
            "--optimizer", '{"class_name": "SGD", "config": {' if case == "optimizer_json" else "sgd"]
    code, err = _job(argv, capsys)
    expected = {"checkpoint_dir": f"StorageError: checkpoint_dir '{root}/blocker/ckpt' is not writable (",
                "output": "StorageError: the directory of --output",
                "damaged_model": f"ModelFormatError: cannot read model '{damaged}': ValueError:",
                "optimizer_json": 'ConfigError: --optimizer \'{"class_name": "SGD", "config": {\' is not valid JSON',
                "bad_label": "SchemaError: label column 'nope' is not in the DataFrame"}
    assert code == _cli.EXIT_BAD_INPUT and err[-1].startswith(expected[case]), err
    assert "Traceback" not in "\n".join(err)
    assert not output.exists() and not (root / f"job-ckpt-{case}").exists()
    assert (root / "blocker").read_text() == "a file"


def test_job_resuming_another_models_checkpoint_fails_with_one_line_and_exit_2(spark, setup, capsys):
    """A rerun of jobs/train.py with a different model (a wider layer) on the same --checkpoint-dir:
    exit 2, one ConfigError line naming both model fingerprints and resume force; no --output."""
    import keras

    from sparkdl.training.resume import model_fingerprint

    root, _, data, keras_path, _ = setup
    keras.utils.set_random_seed(2)
    wider = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(2, activation="softmax")])
    wider.save(root / "wider.keras")
    checkpoints = root / "job-ckpt-other-model"
    common = ["--input", data, "--features", "features", "--label", "label", "--loss",
              "sparse_categorical_crossentropy", "--batch-size", "16", "--checkpoint-dir", checkpoints]
    code, _ = _job(["--model", keras_path, "--output", root / "first.keras", *common], capsys)
    assert code == _cli.EXIT_OK and os.listdir(checkpoints) == ["ckpt-000000004"]
    code, err = _job(["--model", root / "wider.keras", "--output", root / "second.keras", *common], capsys)
    old, new = (model_fingerprint(keras.models.load_model(path)) for path in (keras_path, root / "wider.keras"))
    assert code == _cli.EXIT_BAD_INPUT and old != new
    assert [line for line in err if "Error" in line] == [err[-1]], err
    assert err[-1].startswith(f"ConfigError: cannot resume from {checkpoints}/ckpt-000000004: this run's settings "
                              f"differ from the checkpoint's: model: checkpoint '{old}', now '{new}'"), err
    assert "resume='force'" in err[-1] and "--resume force" in err[-1] and "Traceback" not in "\n".join(err)
    assert not (root / "second.keras").exists() and os.listdir(checkpoints) == ["ckpt-000000004"]
