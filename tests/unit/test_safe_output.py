"""sparkdl.fs helpers behind safe overwrite and stream checkpoints, on local paths (no Spark)."""
import os

import pytest

from sparkdl import fs
from sparkdl.errors import StorageError


def test_qualify_gives_one_spelling_per_location(tmp_path):
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "data", tmp_path / "link")
    forms = [str(tmp_path / "data"), f"{tmp_path}/data/", f"file://{tmp_path}/data", f"file:{tmp_path}/x/../data",
             f"{tmp_path}/./data//", str(tmp_path / "link")]
    assert {fs.qualify(form) for form in forms} == {f"file://{os.path.realpath(tmp_path)}/data"}
    assert fs.qualify("hdfs://nn:8020/a/b/../c/") == "hdfs://nn:8020/a/c"


def test_check_writable_leaves_nothing_behind(tmp_path):
    fs.check_writable(str(tmp_path / "new" / "deeper"), "checkpoint_location")
    assert os.listdir(tmp_path) == []
    (tmp_path / "existing").mkdir()
    fs.check_writable(str(tmp_path / "existing"), "checkpoint_location")
    assert os.listdir(tmp_path / "existing") == []


def test_check_writable_names_the_path_and_the_fix(tmp_path):
    (tmp_path / "file.txt").write_text("not a directory")
    with pytest.raises(StorageError, match=r"checkpoint_location '.*file.txt/ckpt' is not writable .*"
                                           r"fix its permissions or free space, or choose another path"):
        fs.check_writable(str(tmp_path / "file.txt" / "ckpt"), "checkpoint_location")
    assert (tmp_path / "file.txt").read_text() == "not a directory"


def test_replace_swaps_in_the_new_directory_by_rename(tmp_path):
    old, new = tmp_path / "out", tmp_path / fs.sibling(str(tmp_path / "out"), "staging").rpartition("/")[2]
    old.mkdir()
    (old / "old.parquet").write_text("old")
    new.mkdir()
    (new / "new.parquet").write_text("new")
    fs.replace(str(new), str(old))
    assert os.listdir(tmp_path) == ["out"] and os.listdir(old) == ["new.parquet"]


def test_failed_replace_restores_the_old_output(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.parquet").write_text("old")
    with pytest.raises(OSError):
        fs.replace(str(tmp_path / "missing-staging"), str(tmp_path / "out"))
    assert os.listdir(tmp_path) == ["out"] and os.listdir(tmp_path / "out") == ["old.parquet"]
