"""The spark-submit jobs, shipped in the wheel (driver side).

Each job is a module with `main(argv) -> summary dict` and `console_main`, the entry point of its
console script (`sparkdl-batch-score`, `sparkdl-train`, `sparkdl-stream-score`). spark-submit runs
the installed file itself; `python -m sparkdl.jobs` prints where the files are:

    spark-submit --master yarn "$(python -m sparkdl.jobs batch_score)" --model ... --input ...

A clone keeps jobs/*.py as thin files that run these modules.
"""
import os

from ..errors import ConfigError

JOBS = ("batch_score", "train", "stream_score")


def job_path(name: str) -> str:
    """The installed file of job `name`, for spark-submit."""
    if name not in JOBS:
        raise ConfigError(f"no job named {name!r}; the jobs are {', '.join(JOBS)}")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")


def stderr_apart_from_stdout() -> None:
    """Under spark-submit, send the Python driver's stderr to the JVM's stderr (driver side).

    spark-submit's PythonRunner merges the driver's stderr into its own stdout, so log lines and
    TensorFlow's start-up lines (some print at import whatever TF_CPP_MIN_LOG_LEVEL says, like
    oneDNN's) would come before the job's JSON summary. When stdout and stderr are one pipe and
    the parent JVM's stderr can be opened (Linux /proc), fd 2 is pointed there, so stdout is the
    summary only. Anywhere else nothing changes.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not a driver started by spark-submit
        return
    try:
        out, err = os.fstat(1), os.fstat(2)
        if (out.st_dev, out.st_ino) != (err.st_dev, err.st_ino):
            return
        jvm_stderr = os.open(f"/proc/{os.getppid()}/fd/2", os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    os.dup2(jvm_stderr, 2)
    os.close(jvm_stderr)
