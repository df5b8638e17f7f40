"""A real MLflow tracking server (SQLite backend, local artifact root) on a free 127.0.0.1 port."""
import contextlib
import os
import subprocess
import sys
import time
import urllib.request

from tests.integration.sparkproc import _kill_group, free_port

START_SECONDS = 90


def _wait_ready(process: subprocess.Popen, url: str, log_path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}: {open(log_path).read()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not ready after {START_SECONDS}s: {open(log_path).read()[-3000:]}")


@contextlib.contextmanager
def mlflow_server(root):
    """Yield the server's URL; the process group is killed on exit, whatever happened."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    command = [os.path.join(os.path.dirname(sys.executable), "mlflow"), "server",
               "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--default-artifact-root", str(root / "art"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(process, url, log_path)
        yield url
    finally:
        _kill_group(process)
