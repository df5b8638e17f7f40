"""Run a Databricks source-format notebook locally, cell by cell, as Databricks would.

    python scripts/run_notebook.py notebooks/01_batch_scoring.py [--param name=value ...]

A notebook in source format is a `.py` file that starts with `# Databricks notebook source` and
whose cells are separated by `# COMMAND ----------`. Code cells run in order in one namespace.
Cells made only of `# MAGIC` lines are markdown (`%md`, printed as a heading line) or commands
that only make sense in a workspace (`%pip`, `%sh`, `%run`: skipped and listed). Parameters become
environment variables `SPARKDL_NB_<NAME>`, which the notebooks read when `dbutils` is absent.

Exits 0 when every cell ran; otherwise prints the failing cell's number, first line and traceback
and exits 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC = "# MAGIC"


def split_cells(text: str) -> list[str]:
    """The cells of a source-format notebook, header removed; raises ValueError when it is not one."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise ValueError(f"not a Databricks source notebook: the first line must be {HEADER!r}")
    cells, current = [], []
    for line in lines[1:]:
        if line.strip() == SEPARATOR:
            cells.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line)
    cells.append("\n".join(current).strip("\n"))
    return [cell for cell in cells if cell.strip()]


def magic_command(cell: str):
    """For a cell of `# MAGIC` lines, its command ("%md", "%pip", ...); None for a code cell."""
    lines = [line for line in cell.splitlines() if line.strip()]
    if not all(line.startswith(MAGIC) for line in lines):
        return None
    return lines[0][len(MAGIC):].strip().split()[0]


def execute(path: Path, namespace: dict) -> bool:
    """Run the notebook's cells in `namespace` (`%run ./other` runs that notebook in it too)."""
    cells = split_cells(path.read_text())
    for number, cell in enumerate(cells, start=1):
        where = f"[{path.name} cell {number}/{len(cells)}]"
        command = magic_command(cell)
        if command == "%md":
            lines = cell.splitlines()
            print(f"\n{where} {lines[1][len(MAGIC):].strip() if len(lines) > 1 else ''}", flush=True)
            continue
        if command == "%run":
            target = cell.split("%run", 1)[1].split()[0]
            if not execute((path.parent / target).with_suffix(".py"), namespace):
                return False
            continue
        if command is not None:
            print(f"{where} skipped outside Databricks: {command}", flush=True)
            continue
        try:
            exec(compile(cell, f"{path.name} (cell {number})", "exec"), namespace)
        except BaseException:  # report which cell failed, with its traceback, then stop
            first_line = cell.strip().splitlines()[0]
            print(f"\nFAILED: {path.name} cell {number}/{len(cells)} ({first_line!r})", file=sys.stderr, flush=True)
            traceback.print_exc()
            return False
    return True


def run(path: Path, params: dict) -> int:
    """Execute a notebook with its parameters; return the process exit code."""
    for name, value in params.items():
        os.environ[f"SPARKDL_NB_{name.upper()}"] = value
    started = time.time()
    if not execute(path, {"__name__": "__main__", "__file__": str(path)}):
        return 1
    print(f"\n{path.name} ran in {time.time() - started:.1f} s", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter (a widget on Databricks); repeatable")
    args = parser.parse_args(argv)
    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = value
    return run(args.notebook, params)


if __name__ == "__main__":
    raise SystemExit(main())
