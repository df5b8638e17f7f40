"""Training fails early and clearly, and leaves no partial checkpoint: the pieces, without Spark.

Covers the job's --optimizer / --learning-rate checks (before a SparkSession starts), a damaged
.keras file given to train (ModelFormatError), an unwritable checkpoint_dir, a checkpoint write
that fails (StorageError, no `_tmp-ckpt-*` left, older checkpoints intact), the clean-up of the
copies a killed run left, and TrainingCancelledError as a public SparkDLError.
"""
import os
import re

import numpy as np
import pytest

import sparkdl
from sparkdl import _cli, fs
from sparkdl.errors import ConfigError, ModelFormatError, SparkDLError, StorageError
from sparkdl.training import checkpoint as ckpt
from tests import models
from tests.unit.test_job_flags import load_job

EXAMPLE = '{"class_name": "SGD", "config": {"learning_rate": 0.1}}'


def _job_error(argv, capsys):
    """Run jobs/train.py's main in this process; (exit code, stderr lines)."""
    code = _cli.run(load_job("train").main, [str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _args(tmp_path, *extra):
    return ["--model", tmp_path / "never-read.keras", "--input", tmp_path / "no-input", "--features", "x",
            "--label", "y", "--output", tmp_path / "out.keras", *extra]


@pytest.mark.parametrize("flag, value, expected", [
    ("--optimizer", '{"class_name": "SGD", "config": {"learning_rate": 0.1}',
     r"ConfigError: --optimizer '\{.*' is not valid JSON \(Expecting ',' delimiter at character \d+\); pass a Keras "
     r"optimizer name such as adam, or a config such as --optimizer '\{\"class_name\": \"SGD\""),
    ("--optimizer", "[1, 2]", r"ConfigError: --optimizer '\[1, 2\]' is JSON but not an object; pass a Keras optimizer"),
    ("--optimizer", '{"class_name": "NoSuchOptimizer", "config": {}}',
     r"ConfigError: --optimizer: optimizer \{'class_name': 'NoSuchOptimizer', 'config': \{\}\} is not a Keras "
     r"optimizer .*pass a name such as 'sgd' or 'adam'"),
    ("--optimizer", "adamm", r"ConfigError: --optimizer: optimizer 'adamm' is not a Keras optimizer .*'adam'"),
    ("--learning-rate", "-0.5", r"ConfigError: --learning-rate must be a number > 0, got -0.5$"),
])
def test_job_refuses_a_bad_optimizer_flag_before_spark_starts(tmp_path, capsys, monkeypatch, flag, value, expected):
    sessions = []
    monkeypatch.setattr(_cli, "session", lambda app_name: sessions.append(app_name))
    code, err = _job_error(_args(tmp_path, flag, value), capsys)
    assert code == _cli.EXIT_BAD_INPUT and err, err
    assert re.match(expected, err[-1]), err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sessions == []  # failed before a session was asked for
    assert os.listdir(tmp_path) == []


def test_job_builds_a_good_optimizer_from_json_and_learning_rate():
    from sparkdl.jobs import train as job

    args = job.parse_args(["--model", "m.keras", "--input", "i", "--features", "x", "--label", "y", "--output", "o",
                           "--optimizer", EXAMPLE])
    assert type(job._optimizer(args)).__name__ == "SGD"
    args = job.parse_args(["--model", "m.keras", "--input", "i", "--features", "x", "--label", "y", "--output", "o",
                           "--optimizer", "adam", "--learning-rate", "0.25"])
    assert np.isclose(float(job._optimizer(args).learning_rate), 0.25)


@pytest.fixture(scope="module")
def keras_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "mlp.keras"
    models.mlp(8, 3).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["cut_short", "not_a_zip", "empty"])
def test_a_damaged_keras_file_is_a_model_format_error_with_the_fix(tmp_path, keras_bytes, damage):
    from sparkdl.training.config import resolve_keras_model

    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes({"cut_short": keras_bytes[:2000], "not_a_zip": b"garbage" * 50, "empty": b""}[damage])
    expected = r"\. The file looks damaged or incomplete; save it again with model.save\('model.keras'\)"
    with pytest.raises(ModelFormatError, match=rf"cannot read model '{damaged}': ValueError: .*{expected}"):
        resolve_keras_model(str(damaged), None)


def test_a_checkpoint_dir_that_cannot_be_a_directory_is_refused(tmp_path):
    from sparkdl.training.train import claim_checkpoint_dir

    (tmp_path / "file.txt").write_text("a file, not a directory")
    bad = tmp_path / "file.txt" / "ckpt"
    with pytest.raises(StorageError, match=rf"checkpoint_dir '{bad}' is not writable \(.*\); fix its permissions or "
                                           r"free space, or choose another path"):
        claim_checkpoint_dir(str(bad), None)
    assert os.listdir(tmp_path) == ["file.txt"]
    with pytest.raises(ConfigError, match=r"checkpoint_dir must be a path or URI .*got 42"):
        claim_checkpoint_dir(42, None)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_checkpoint_dir_is_refused(tmp_path):
    from sparkdl.training.train import claim_checkpoint_dir

    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(StorageError, match=r"checkpoint_dir '.*/ro' is not writable \(.*Permission denied"):
        claim_checkpoint_dir(str(tmp_path / "ro"), None)
    assert os.listdir(tmp_path / "ro") == []


def test_a_new_checkpoint_dir_is_checked_and_left_as_it_was(tmp_path):
    from sparkdl.training.train import claim_checkpoint_dir

    claim_checkpoint_dir(str(tmp_path / "new" / "ckpt"), None)
    assert os.listdir(tmp_path) == []


def _checkpoint(global_round):
    return ckpt.Checkpoint(np.arange(5, dtype=np.float32), [np.ones(2)], {"global_round": global_round, "epoch": 0})


def test_a_failed_checkpoint_write_leaves_no_partial_copy(tmp_path, monkeypatch):
    """The rename that publishes a checkpoint fails (a full or revoked disk): a StorageError naming the
    checkpoint, the cause and the fix; no `_tmp-ckpt-*` left; the older checkpoint intact."""
    directory = str(tmp_path / "ckpt")
    first = ckpt.save(directory, _checkpoint(1), None)

    def full_disk(uri, target, spark=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fs, "rename", full_disk)
    with pytest.raises(StorageError, match=r"cannot write checkpoint '.*/ckpt-000000002': OSError: \[Errno 28\] No "
                                           r"space left on device; free space or fix the permissions of checkpoint_dir "
                                           r"'.*/ckpt' \(or choose another one\), then rerun with the same"):
        ckpt.save(directory, _checkpoint(2), None)
    monkeypatch.undo()
    assert os.listdir(directory) == ["ckpt-000000001"]
    assert ckpt.latest(directory, None) == first
    np.testing.assert_array_equal(ckpt.load(first, None).weights, np.arange(5, dtype=np.float32))


def test_a_failed_upload_leaves_no_partial_copy(tmp_path):
    """The staged copy cannot even be created: a file stands where the directory should be."""
    (tmp_path / "ckpt").write_text("not a directory")
    with pytest.raises(StorageError, match=r"cannot write checkpoint '.*/ckpt/ckpt-000000003': .*free space or fix"):
        ckpt.save(str(tmp_path / "ckpt"), _checkpoint(3), None)
    assert os.listdir(tmp_path) == ["ckpt"] and (tmp_path / "ckpt").read_text() == "not a directory"


def test_partial_copies_of_a_killed_run_are_deleted_and_checkpoints_kept(tmp_path):
    directory = str(tmp_path / "ckpt")
    kept = ckpt.save(directory, _checkpoint(4), None)
    os.makedirs(os.path.join(directory, "_tmp-ckpt-000000005-deadbeef"))
    (tmp_path / "ckpt" / "_tmp-ckpt-000000005-deadbeef" / "state.npz").write_bytes(b"half")
    assert ckpt.discard_partial(directory, None) == ["_tmp-ckpt-000000005-deadbeef"]
    assert os.listdir(directory) == ["ckpt-000000004"] and ckpt.latest(directory, None) == kept
    assert ckpt.discard_partial(None, None) == [] and ckpt.discard_partial(str(tmp_path / "none"), None) == []


def test_training_cancelled_error_is_a_public_sparkdl_error():
    from sparkdl.training import progress

    assert sparkdl.TrainingCancelledError is progress.TrainingCancelledError
    assert issubclass(sparkdl.TrainingCancelledError, SparkDLError) and "TrainingCancelledError" in sparkdl.__all__
    with pytest.raises(sparkdl.SparkDLError, match="training job group 'g' was cancelled"):
        progress._cancelled.add("g")
        try:
            progress.check_not_cancelled("g")
        finally:
            progress._cancelled.discard("g")
