"""`score_files` output commit with Hadoop FileOutputCommitter semantics, on pyarrow file systems.

    <output>/_temporary/<job>/_attempt_<tag>/part-<split>.<ext>   a task attempt writes here
    <output>/_temporary/<job>/task_<tag>.<ext>                    task commit: one rename
    <output>/part-<split>-<job>.<ext> + _SUCCESS                  job commit (driver)

`<tag>` is unique per attempt (split, attempt number, Spark task id, a random nonce), so retried
and speculative attempts never write over each other. Spark returns exactly one result per
partition to `collect()`, so the driver moves exactly one committed file per split into place;
files of failed or losing attempts stay in `_temporary` and are deleted with it. A failed job
leaves no output: the output directory is removed if this job created it; an existing output
(overwrite=True) is untouched until the job has succeeded, then its entries are replaced by file
moves (a reader during those moves may see an incomplete table, as with Hadoop's committers). If
one of those moves, or the _SUCCESS write, fails, the old entries are moved back before the error
propagates.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import List

import pyarrow.fs as pafs

from ..errors import StorageError
from ..fs import join
from .arrow_fs import resolve

TEMPORARY = "_temporary"


@dataclass(frozen=True)
class OutputJob:
    """The output and this job's staging area: shipped to every task."""

    uri: str
    job_id: str
    extension: str

    def staging(self, base: str) -> str:
        return join(base, TEMPORARY, self.job_id)


class TaskAttempt:
    """Executor side: where one task attempt writes, and its commit."""

    def __init__(self, job: OutputJob, split: int):
        from pyspark import TaskContext

        context = TaskContext.get()
        self.attempt, task_id = (context.attemptNumber(), context.taskAttemptId()) if context else (0, 0)
        self.split, self.job = split, job
        self.tag = f"{split:05d}_{self.attempt}_{task_id}_{uuid.uuid4().hex[:8]}"
        self.filesystem, base = resolve(job.uri)
        self.staging = job.staging(base)
        self.directory = join(self.staging, f"_attempt_{self.tag}")
        self.path = join(self.directory, f"part-{split:05d}.{job.extension}")

    def open(self):
        """The attempt's output stream. The job's staging directory must exist: an attempt still
        running after its job ended (a speculative loser) fails here instead of writing."""
        self.filesystem.create_dir(self.directory, recursive=False)
        return self.filesystem.open_output_stream(self.path)

    def commit(self, rows: int) -> dict:
        """Rename the attempt's file to a committed task file; return what the driver needs."""
        committed = join(self.staging, f"task_{self.tag}.{self.job.extension}")
        self.filesystem.move(self.path, committed)
        self.filesystem.delete_dir(self.directory)
        return {"split": self.split, "file": committed, "rows": rows, "attempt": self.attempt}


class JobCommitter:
    """Driver side: claim the output, then commit or abort one job."""

    def __init__(self, uri: str, overwrite: bool, extension: str):
        self.filesystem, self.base = resolve(uri)
        info = self.filesystem.get_file_info(self.base)
        self.existed = info.type != pafs.FileType.NotFound
        if self.existed and not overwrite:
            raise StorageError(f"output {uri!r} already exists; choose a new path or pass overwrite=True")
        if info.type == pafs.FileType.File:
            raise StorageError(f"output {uri!r} is a file; score_files writes a directory, so choose another path")
        self.job = OutputJob(str(uri), uuid.uuid4().hex, extension)
        self.staging = self.job.staging(self.base)
        self.old_names = [name for name in self._names(self.base) if name != TEMPORARY] if self.existed else []
        self.moved_aside: List[str] = []  # old entries now in staging/_replaced
        self.stranded = False  # True: the old output could not be moved back; abort() must keep staging

    def setup(self) -> None:
        self.filesystem.create_dir(self.staging, recursive=True)

    def commit(self, results: List[dict], splits: int) -> List[str]:
        """Move one committed file per split into place, replace an old output, write _SUCCESS (driver).

        When a step after the old output was moved aside fails, the old output is moved back into
        place before the error propagates, so abort() deletes only this job's files.
        """
        chosen = {result["split"]: result for result in results}
        if sorted(chosen) != list(range(splits)):
            raise StorageError(f"job {self.job.job_id}: results for splits {sorted(chosen)} but {splits} were "
                               f"planned; nothing was committed")
        files = []
        try:
            if self.existed:
                self._move_old_aside()
            for split, result in sorted(chosen.items()):
                target = join(self.base, f"part-{split:05d}-{self.job.job_id[:12]}.{self.job.extension}")
                self.filesystem.move(result["file"], target)
                files.append(target)
            self.filesystem.open_output_stream(join(self.base, "_SUCCESS")).close()
        except BaseException as error:
            if self.existed:
                self._restore_old(error)
            raise
        self._remove_staging()
        return files

    def abort(self) -> None:
        """Leave no trace: remove the output if this job created it, else only this job's staging."""
        if self.stranded:
            return  # the old output is still in staging (see _restore_old): deleting it would lose it
        if not self.existed:
            self.staging = self.base  # all of it is this job's
        self._remove_staging()

    @property
    def _aside(self) -> str:
        return join(self.staging, "_replaced")

    def _names(self, directory: str) -> List[str]:
        entries = self.filesystem.get_file_info(pafs.FileSelector(directory))
        return [entry.path.rstrip("/").rsplit("/", 1)[-1] for entry in entries]

    def _move_old_aside(self) -> None:
        """Move the old output's entries into staging/_replaced, recording each one moved (driver)."""
        self.filesystem.create_dir(self._aside)
        for name in self._names(self.base):
            if name != TEMPORARY:
                self.filesystem.move(join(self.base, name), join(self._aside, name))
                self.moved_aside.append(name)

    def _restore_old(self, error: BaseException) -> None:
        """Undo a failed commit (driver): delete the new entries placed in the output, move the old
        ones back. If that fails too, the old output stays in staging and abort() keeps it."""
        try:
            for name in self._names(self.base):
                if name != TEMPORARY and (name in self.moved_aside or name not in self.old_names):
                    path = join(self.base, name)
                    if self.filesystem.get_file_info(path).type == pafs.FileType.Directory:
                        self.filesystem.delete_dir(path)
                    else:
                        self.filesystem.delete_file(path)
            while self.moved_aside:
                name = self.moved_aside[-1]
                self.filesystem.move(join(self._aside, name), join(self.base, name))
                self.moved_aside.pop()
        except Exception as failure:
            self.stranded = True
            raise StorageError(f"committing output {self.job.uri!r} failed ({error}) and moving the old output back "
                               f"failed too ({failure}); the old entries {self.moved_aside} are in {self._aside!r}: "
                               f"move them back into the output directory") from error

    def _remove_staging(self) -> None:
        """Delete this job's staging directory, and `_temporary` when no other job uses it."""
        for _ in range(3):  # a cancelled task may still be creating files in it: retry a moment later
            try:
                if self.filesystem.get_file_info(self.staging).type != pafs.FileType.NotFound:
                    self.filesystem.delete_dir(self.staging)
                break
            except OSError:
                time.sleep(0.5)
        temporary = join(self.base, TEMPORARY)
        if self.filesystem.get_file_info(temporary).type == pafs.FileType.Directory and \
                not self.filesystem.get_file_info(pafs.FileSelector(temporary)):
            self.filesystem.delete_dir(temporary)
