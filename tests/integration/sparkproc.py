"""Start a real standalone Spark cluster from the pyspark wheel, and run spark-submit.

Every process is started in its own session and killed as a group on exit (executors and Python
workers included), whatever the outcome of the test.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark

ROOT = Path(__file__).resolve().parents[2]
SPARK_HOME = os.path.dirname(pyspark.__file__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env(**extra) -> dict:
    env = dict(os.environ, SPARK_HOME=SPARK_HOME, PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def spark_submit(args, timeout=600, **env) -> subprocess.CompletedProcess:
    """Run `spark-submit ARGS` from the wheel; return the finished process (text output)."""
    command = [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--conf", "spark.ui.enabled=false", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=spark_env(**env), cwd=ROOT)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# Master and Workers only route work: the client compiler and the serial collector start their JVMs in
# about half the time on a small machine (executors, launched by the Workers, keep Spark's defaults).
DAEMON_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def _daemon_env(**extra) -> dict:
    opts = " ".join(filter(None, [DAEMON_JAVA_OPTS, os.environ.get("SPARK_DAEMON_JAVA_OPTS")]))
    return spark_env(SPARK_DAEMON_JAVA_OPTS=opts, **extra)


@contextlib.contextmanager
def standalone_cluster(work_dir: Path, workers: int = 2, cores: int = 1, memory: str = "2g", worker_opts: str = ""):
    """Yield the master URL of a running cluster; stop every process on exit."""
    port, web_port = free_port(), free_port()
    processes = []
    try:
        master_log = open(work_dir / "master.log", "w")
        processes.append(subprocess.Popen(
            [os.path.join(SPARK_HOME, "bin", "spark-class"), "org.apache.spark.deploy.master.Master",
             "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web_port)],
            stdout=master_log, stderr=subprocess.STDOUT, env=_daemon_env(), start_new_session=True))
        url = f"spark://127.0.0.1:{port}"
        for i in range(workers):
            log = open(work_dir / f"worker{i}.log", "w")
            processes.append(subprocess.Popen(
                [os.path.join(SPARK_HOME, "bin", "spark-class"), "org.apache.spark.deploy.worker.Worker", url,
                 "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                 "--webui-port", str(free_port()), "--work-dir", str(work_dir / f"work{i}")],
                stdout=log, stderr=subprocess.STDOUT, env=_daemon_env(SPARK_WORKER_OPTS=worker_opts),
                start_new_session=True))
        _wait_for_workers(web_port, workers, processes)
        yield url
    finally:
        for process in reversed(processes):
            _kill_group(process)


def _wait_for_workers(web_port: int, expected: int, processes, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a Spark daemon exited during start-up; see the logs in the test's work dir")
        with contextlib.suppress(OSError, ValueError):
            state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=2))
            if state.get("aliveworkers", 0) >= expected:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{expected} workers did not register with the master within {timeout}s")
