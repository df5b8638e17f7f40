"""spark-submit jobs/batch_score.py ...: the job in sparkdl/jobs/batch_score.py, run from a clone.

The wheel runs the same code as the `sparkdl-batch-score` console script, or with
`spark-submit "$(python -m sparkdl.jobs batch_score)" ...`.
"""
from sparkdl.jobs.batch_score import console_main, main, parse_args  # noqa: F401

if __name__ == "__main__":
    console_main()
