"""spark-submit jobs/train.py ...: the job in sparkdl/jobs/train.py, run from a clone.

The wheel runs the same code as the `sparkdl-train` console script, or with
`spark-submit "$(python -m sparkdl.jobs train)" ...`.
"""
from sparkdl.jobs.train import RESUME, console_main, load_model_fn, main, parse_args  # noqa: F401

if __name__ == "__main__":
    console_main()
