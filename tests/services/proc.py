"""Java daemons for the test services: each in its own process group, always stopped as a group."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.integration.sparkproc import _kill_group as stop  # noqa: F401  (SIGTERM the group, then SIGKILL)
from tests.integration.sparkproc import free_port  # noqa: F401


def start(command: list, log: Path, env=None) -> subprocess.Popen:
    """Start `command` in a new process group, its output in `log`."""
    with open(log, "w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, **(env or {})))


def run(command: list, log: Path, timeout: float = 120) -> None:
    """Run a one-shot tool (a format step); RuntimeError with its log's tail when it fails."""
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{command[-3:]} failed ({done.returncode}):\n{log.read_text()[-3000:]}")


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: the process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.3)
    raise TimeoutError(f"{log.name}: nothing listened on port {port} within {timeout:.0f}s")


def java(classpath: str, main: str, *args, heap: str = "512m") -> list:
    return ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath, main, *args]
