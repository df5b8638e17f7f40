"""`python -m sparkdl.jobs [NAME]`: print the path of one job file (or of all) for spark-submit."""
import sys

from sparkdl.jobs import JOBS, job_path


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or JOBS
    for name in names:
        print(job_path(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
