"""Progress inside an epoch, without Spark: a tqdm bar when interactive, round lines in the log otherwise."""
import io
import logging
import sys
from types import SimpleNamespace

import pytest

from sparkdl.training import progress


class _Context:
    def __init__(self):
        self.descriptions = []

    def setJobDescription(self, text):
        self.descriptions.append(text)


def _epoch(hook, rounds, epoch=0):
    """Drive `hook` through one epoch of `rounds` rounds, as TrainingRun does; the bar seen before its end."""
    hook.on_epoch_begin(epoch)
    for r in range(rounds):
        hook.on_round_end(epoch, r, {"loss": 1.0 / (r + 1)})
    bar = hook.bar
    hook.on_epoch_end(epoch, {})
    return bar


def _hook(rounds, epochs=2):
    spark = SimpleNamespace(sparkContext=_Context())
    hook = progress.Progress(spark)
    hook.on_train_begin(SimpleNamespace(rounds_per_epoch=rounds, config=SimpleNamespace(epochs=epochs)))
    return hook, spark.sparkContext


def test_non_interactive_logs_a_round_counter_and_describes_every_round(monkeypatch, caplog):
    monkeypatch.setattr(progress, "interactive", lambda: False)
    caplog.set_level(logging.INFO, logger="sparkdl")
    hook, sc = _hook(rounds=20)
    assert _epoch(hook, 20, epoch=1) is None
    lines = [r.getMessage() for r in caplog.records if r.name == "sparkdl.training.progress"]
    assert lines == [f"progress: round {r}/20 of epoch 2/2, loss={1.0 / r:.4f}" for r in range(2, 20, 2)]
    assert sc.descriptions == [f"sparkdl train: epoch 2/2 round {r}/20" for r in range(1, 21)]


def test_interactive_shows_a_tqdm_bar_per_epoch_and_no_round_lines(monkeypatch, caplog, capsys):
    monkeypatch.setattr(progress, "interactive", lambda: True)
    caplog.set_level(logging.INFO, logger="sparkdl")
    hook, _ = _hook(rounds=7)
    bar = _epoch(hook, 7)
    assert (bar.n, bar.total, bar.desc, bar.unit) == (7, 7, "epoch 1/2", "round")
    assert hook.bar is None  # closed at the epoch's end
    assert "epoch 1/2" in capsys.readouterr().err
    assert not [r for r in caplog.records if "progress: round" in r.getMessage()]


def test_interactive_means_a_notebook_kernel_or_a_terminal(monkeypatch):
    monkeypatch.delattr(sys, "ps1", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert progress.interactive() is False
    monkeypatch.setitem(sys.modules, "ipykernel", SimpleNamespace())
    assert progress.interactive() is True


class _Session:
    def __init__(self):
        self.sparkContext = _Context()
        self.sparkContext.getLocalProperty = lambda key: None
        self.sparkContext.setLocalProperty = lambda key, value: None
        self.sparkContext.cancelJobGroup = lambda group: None


def test_a_cancel_while_the_rows_are_laid_out_is_training_cancelled(monkeypatch):
    from sparkdl import TrainingCancelledError, cancel_training
    from sparkdl.training import train

    df = SimpleNamespace(sparkSession=_Session())
    released = []
    laid_out = SimpleNamespace(release=lambda: released.append(True))

    def cancelled_between_jobs(*args):
        cancel_training(df.sparkSession, "g1")
        return laid_out

    def cancelled_in_a_job(*args):
        raise RuntimeError("Job 7 cancelled part of cancelled job group g2")

    config = SimpleNamespace(columns=["x", "y"], partitions=2)
    for group, prepare in (("g1", cancelled_between_jobs), ("g2", cancelled_in_a_job)):
        monkeypatch.setattr(train, "prepare", prepare)
        with pytest.raises(TrainingCancelledError, match=rf"job group '{group}'\) while laying out the rows"):
            train._lay_out(df, config, False, 0, group)
    assert released == [True]  # the rows laid out before the cancel are uncached
    assert df.sparkSession.sparkContext.descriptions == ["sparkdl train: laying out the rows"] * 2


class _Properties:
    """SparkContext's thread-local properties, as setJobGroup/setLocalProperty change them."""

    def __init__(self, **values):
        self.values = dict(values)

    def getLocalProperty(self, key):
        return self.values.get(key)

    def setLocalProperty(self, key, value):
        self.values.pop(key) if value is None else self.values.__setitem__(key, value)

    def setJobGroup(self, group, description, interruptOnCancel=False):
        self.values.update({progress.GROUP: group, "spark.job.description": description,
                            "spark.job.interruptOnCancel": str(interruptOnCancel).lower()})


def test_a_training_job_group_puts_the_callers_group_and_description_back():
    mine = {progress.GROUP: "nightly", "spark.job.description": "my notebook cell"}
    sc = _Properties(**mine)
    with progress.job_group(sc, "sparkdl-train-1", "sparkdl train"):
        assert sc.values[progress.GROUP] == "sparkdl-train-1"
        assert sc.values["spark.job.interruptOnCancel"] == "true"
    assert sc.values == mine


def test_mlflow_gets_one_metric_per_class_for_per_class_metrics():
    from sparkdl.training import tracking

    logs = {"loss": 0.5, "f1_score": [0.25, 0.75], "val_f1_score": (1.0, 0.0), "note": "text"}
    assert tracking._scalars(logs) == {"loss": 0.5, "f1_score_0": 0.25, "f1_score_1": 0.75,
                                       "val_f1_score_0": 1.0, "val_f1_score_1": 0.0}
