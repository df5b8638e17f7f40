"""score_files' driver and executor parts that need no Spark job: split planning, the committer, prefetch."""
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkdl import ConfigError, StorageError
from sparkdl.inference.arrow_fs import data_files, resolve
from sparkdl.inference.commit import JobCommitter, TaskAttempt
from sparkdl.inference.formats import ReadOptions, ReadSpec, read_schema
from sparkdl.inference.prefetch import prefetched
from sparkdl.inference.splits import plan_splits


def _table(start, rows):
    return pa.table({"id": pa.array(np.arange(start, start + rows)),
                     "x": pa.array(np.ones((rows, 4), np.float32).tolist(), pa.list_(pa.float32()))})


def _plan(path, slots=2, **options):
    filesystem, root = resolve(str(path))
    files = data_files(filesystem, root, str(path))
    read = ReadOptions.of("parquet", options)
    return plan_splits(filesystem, files, ReadSpec(read, read_schema(filesystem, files, read), ("id", "x")), slots)


def test_small_files_pack_into_few_tasks_and_a_large_file_splits_by_row_group(tmp_path):
    for i in range(40):
        pq.write_table(_table(i * 10, 10), tmp_path / f"small-{i:02d}.parquet")
    pq.write_table(_table(0, 0), tmp_path / "empty.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    splits = _plan(tmp_path)
    assert len(splits) == 4 and sum(s.rows for s in splits) == 400  # 40 files, 2 slots: two tasks per slot
    assert max(s.rows for s in splits) - min(s.rows for s in splits) <= 10
    big = tmp_path / "big"
    big.mkdir()
    pq.write_table(_table(0, 4000), big / "one.parquet", row_group_size=500)  # 8 row groups, ~64 kB each
    splits = _plan(big, split_bytes=150_000)
    groups = sorted(g for s in splits for piece in s.pieces for g in piece.parts)
    assert groups == list(range(8)) and len(splits) >= 2 and len(splits) % 2 == 0
    assert sum(s.rows for s in splits) == 4000


def test_a_file_of_another_format_is_named(tmp_path):
    pq.write_table(_table(0, 3), tmp_path / "a.parquet")
    (tmp_path / "notes.txt").write_text("not parquet")
    with pytest.raises(StorageError, match=r"cannot read '.*notes.txt' as parquet: .*pass the right input_format"):
        _plan(tmp_path)


def test_loading_options_are_checked():
    with pytest.raises(ConfigError, match=r"options \['sep'\] are not understood for input_format='parquet'"):
        ReadOptions.of("parquet", {"sep": ";"})
    with pytest.raises(ConfigError, match="input_format 'avro' is not one pyarrow reads here"):
        ReadOptions.of("avro", {})
    assert dict(ReadOptions.of("csv", {"sep": ";", "header": "false"}).csv) == {"delimiter": ";", "header": False}


def _attempt(committer, split, rows):
    attempt = TaskAttempt(committer.job, split)
    with attempt.open() as stream:
        pq.write_table(_table(split * 100, rows), stream)
    return attempt.commit(rows)


def test_one_committed_attempt_per_split_reaches_the_output(tmp_path):
    output = tmp_path / "out"
    committer = JobCommitter(str(output), overwrite=False, extension="parquet")
    committer.setup()
    first, speculative = _attempt(committer, 0, 10), _attempt(committer, 0, 10)  # two attempts of split 0
    failed = TaskAttempt(committer.job, 1)
    failed.open().close()  # an attempt that died before its commit
    files = committer.commit([speculative, _attempt(committer, 1, 5)], splits=2)
    assert first["file"] != speculative["file"] and len(files) == 2
    assert (output / "_SUCCESS").exists() and not (output / "_temporary").exists()
    assert sorted(pq.read_table(output).column("id").to_pylist()) == list(range(10)) + list(range(100, 105))
    with pytest.raises(OSError):
        TaskAttempt(committer.job, 0).open()  # a straggler after the job: its staging is gone, it cannot write
    assert not (output / "_temporary").exists()
    with pytest.raises(StorageError, match="already exists; choose a new path or pass overwrite=True"):
        JobCommitter(str(output), overwrite=False, extension="parquet")


def test_abort_removes_a_new_output_and_keeps_an_old_one(tmp_path):
    fresh = JobCommitter(str(tmp_path / "new"), overwrite=False, extension="parquet")
    fresh.setup()
    _attempt(fresh, 0, 3)
    fresh.abort()
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old"
    old.mkdir()
    (old / "part-0.parquet").write_bytes(b"old data")
    replacing = JobCommitter(str(old), overwrite=True, extension="parquet")
    replacing.setup()
    _attempt(replacing, 0, 3)
    replacing.abort()
    assert [p.name for p in old.iterdir()] == ["part-0.parquet"]
    assert (old / "part-0.parquet").read_bytes() == b"old data"


def test_prefetch_keeps_order_bounds_read_ahead_and_stops_its_thread():
    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    stream = prefetched(items(), depth=3)
    assert next(stream) == 0
    time.sleep(0.2)
    assert len(produced) <= 1 + 3 + 1  # the one taken, the queue, one waiting to be put
    assert list(stream) == list(range(1, 100))
    before = threading.active_count()
    stream = prefetched(iter(range(10**6)), depth=2)
    next(stream)
    stream.close()  # the consumer stops early: the reader thread ends
    assert threading.active_count() <= before


def test_prefetch_raises_the_readers_error_in_the_consumer():
    def items():
        yield 1
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        list(prefetched(items(), depth=2))


def test_prefetch_reads_nothing_while_a_model_call_is_timed():
    """A worker still measuring its call size holds CALL_TIMING around each timed call; the reader
    thread waits for it, so the call's CPU seconds do not include a read."""
    from sparkdl.tf.call_size import CALL_TIMING

    taken = []
    with CALL_TIMING:
        consumer = threading.Thread(target=lambda: taken.extend(prefetched(iter(range(5)), depth=2)))
        consumer.start()
        time.sleep(0.3)
        assert taken == []
    consumer.join(timeout=10)
    assert taken == list(range(5))


def test_batch_jobs_take_the_arrow_engine_only_when_nothing_needs_spark(tmp_path):
    from sparkdl.inference.files import choose_engine

    pq.write_table(_table(0, 3), tmp_path / "a.parquet")
    assert choose_engine("auto", str(tmp_path), "parquet") == "arrow"
    assert choose_engine("auto", str(tmp_path), "json") == "spark"  # pyarrow writes no JSON
    assert choose_engine("auto", str(tmp_path), "parquet", ["--partitions 4"]) == "spark"
    assert choose_engine("auto", str(tmp_path / "missing"), "parquet") == "spark"  # Spark's error names the flag
    assert choose_engine("spark", str(tmp_path), "parquet") == "spark"
    with pytest.raises(ConfigError, match=r"the arrow engine cannot apply \['--partitions 4'\]"):
        choose_engine("arrow", str(tmp_path), "parquet", ["--partitions 4"])
