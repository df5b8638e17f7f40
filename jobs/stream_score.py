"""spark-submit jobs/stream_score.py ...: the job in sparkdl/jobs/stream_score.py, run from a clone.

The wheel runs the same code as the `sparkdl-stream-score` console script, or with
`spark-submit "$(python -m sparkdl.jobs stream_score)" ...`.
"""
from sparkdl.jobs.stream_score import console_main, main, parse_args  # noqa: F401

if __name__ == "__main__":
    console_main()
