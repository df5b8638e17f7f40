"""score_files' job commit (sparkdl/inference/commit.py) when a step after the old output was moved
aside fails: the old output must be back in place, unchanged (no Spark: the driver side only)."""
import os

import pytest

from sparkdl.errors import StorageError
from sparkdl.inference.commit import JobCommitter

OLD = {"part-00000-old.parquet": b"old rows 0", "part-00001-old.parquet": b"old rows 1", "_SUCCESS": b""}


class FailingFileSystem:
    """A pyarrow file system whose `move` or `open_output_stream` fails for chosen paths."""

    def __init__(self, real, fail_move=lambda source, target: False, fail_open=lambda path: False):
        self.real, self.fail_move, self.fail_open = real, fail_move, fail_open

    def move(self, source, target):
        if self.fail_move(source, target):
            raise OSError(f"injected: cannot move {source}")
        return self.real.move(source, target)

    def open_output_stream(self, path, *args, **kwargs):
        if self.fail_open(path):
            raise OSError(f"injected: cannot write {path}")
        return self.real.open_output_stream(path, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _old_output(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    for name, data in OLD.items():
        (output / name).write_bytes(data)
    return output


def _committer_with_two_task_files(output):
    committer = JobCommitter(str(output), overwrite=True, extension="parquet")
    committer.setup()
    results = []
    for split in range(2):
        path = os.path.join(committer.staging, f"task_{split:05d}_0_{split}_abc.parquet")
        with open(path, "wb") as file:
            file.write(f"new rows {split}".encode())
        results.append({"split": split, "file": path, "rows": 1, "attempt": 0})
    return committer, results


def _contents(directory):
    return {name: (directory / name).read_bytes() for name in os.listdir(directory)}


@pytest.mark.parametrize("failing_part", ["task_00000", "task_00001"])
def test_failed_move_of_a_new_part_puts_the_old_output_back(tmp_path, monkeypatch, failing_part):
    output = _old_output(tmp_path)
    committer, results = _committer_with_two_task_files(output)
    monkeypatch.setattr(committer, "filesystem", FailingFileSystem(
        committer.filesystem, fail_move=lambda source, target: failing_part in source))
    with pytest.raises(OSError, match="injected: cannot move"):
        committer.commit(results, 2)
    committer.abort()
    assert _contents(output) == OLD  # the old files, unchanged; no new part, no _temporary


def test_failed_success_marker_puts_the_old_output_back(tmp_path, monkeypatch):
    output = _old_output(tmp_path)
    committer, results = _committer_with_two_task_files(output)
    monkeypatch.setattr(committer, "filesystem", FailingFileSystem(
        committer.filesystem, fail_open=lambda path: path.endswith("_SUCCESS")))
    with pytest.raises(OSError, match="injected: cannot write"):
        committer.commit(results, 2)
    committer.abort()
    assert _contents(output) == OLD


def test_old_output_that_cannot_be_moved_back_is_kept_and_named(tmp_path, monkeypatch):
    output = _old_output(tmp_path)
    committer, results = _committer_with_two_task_files(output)
    monkeypatch.setattr(committer, "filesystem", FailingFileSystem(
        committer.filesystem, fail_move=lambda source, target: "task_00001" in source or "_replaced" in source))
    with pytest.raises(StorageError, match=r"moving the old output back failed too .* are in '.*_replaced': "
                                           r"move them back into the output directory"):
        committer.commit(results, 2)
    committer.abort()
    aside = tmp_path / "out" / "_temporary" / committer.job.job_id / "_replaced"
    assert _contents(aside) == OLD  # not deleted by abort()


def test_successful_commit_replaces_the_old_output(tmp_path):
    output = _old_output(tmp_path)
    committer, results = _committer_with_two_task_files(output)
    files = committer.commit(results, 2)
    assert sorted(os.path.basename(f) for f in files) == sorted(
        f"part-{split:05d}-{committer.job.job_id[:12]}.parquet" for split in range(2))
    assert sorted(os.listdir(output)) == sorted([os.path.basename(f) for f in files] + ["_SUCCESS"])
