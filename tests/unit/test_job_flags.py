"""Job flag checks that fail before any SparkSession starts (exit code 2, a message naming the fix)."""
import importlib.util
from pathlib import Path

from sparkdl import _cli

JOBS = Path(__file__).resolve().parents[2] / "jobs"


def load_job(name: str):
    spec = importlib.util.spec_from_file_location(f"job_{name}", JOBS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stream_job_kafka_topics_need_a_bootstrap(capsys):
    job = load_job("stream_score")
    code = _cli.run(job.main, ["--model", "m.keras", "--input-topic", "events", "--output-path", "out",
                               "--checkpoint", "ckpt"])
    assert code == _cli.EXIT_BAD_INPUT
    assert "ConfigError: --input-topic and --output-topic need --kafka-bootstrap" in capsys.readouterr().err


def test_stream_job_takes_a_file_directory_as_source():
    args = load_job("stream_score").parse_args(["--model", "m.keras", "--input-path", "landing", "--input-format",
                                                "json", "--schema", "id long", "--output-path", "out",
                                                "--checkpoint", "ckpt"])
    assert (args.input_path, args.input_format, args.input_topic) == ("landing", "json", None)


def test_batch_job_keep_takes_a_column_list():
    job = load_job("batch_score")
    args = job.parse_args(["--model", "m.keras", "--input", "in", "--output", "out", "--keep", "id, ts"])
    assert args.keep == ["id", "ts"]
    assert job.parse_args(["--model", "m.keras", "--input", "in", "--output", "out"]).keep is None


def test_local_master_without_a_retry_count_gets_task_retries():
    assert _cli.master_with_retries(None) == "local[*,4]"  # no master given: spark-submit's local[*]
    assert _cli.master_with_retries("local[*]") == "local[*,4]"
    assert _cli.master_with_retries("local[2]") == "local[2,4]"
    assert _cli.master_with_retries("local") == "local[1,4]"
    for kept in ("local[2,1]", "local[*,3]", "yarn", "spark://127.0.0.1:7077", "local-cluster[2,1,1024]"):
        assert _cli.master_with_retries(kept) is None
