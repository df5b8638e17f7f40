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
