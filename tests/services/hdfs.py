"""A single-node HDFS for tests and `make services`: a real NameNode and DataNode from the Apache
Hadoop jars (pyspark's bundled Hadoop version), on free 127.0.0.1 ports, WebHDFS on."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from . import jars, proc

NAMENODE = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE = "org.apache.hadoop.hdfs.server.datanode.DataNode"


@dataclass(frozen=True)
class HDFS:
    """Addresses of a running HDFS: `uri` (fs.defaultFS) and `webhdfs` (the NameNode's HTTP URL)."""

    uri: str
    webhdfs: str


def _site(path: Path, settings: dict) -> None:
    props = "".join(f"<property><name>{k}</name><value>{v}</value></property>\n" for k, v in settings.items())
    path.write_text(f"<?xml version=\"1.0\"?>\n<configuration>\n{props}</configuration>\n")


def _configure(root: Path) -> tuple:
    rpc, http = proc.free_port(), proc.free_port()
    conf = root / "conf"
    conf.mkdir(parents=True)
    _site(conf / "core-site.xml", {"fs.defaultFS": f"hdfs://127.0.0.1:{rpc}", "hadoop.tmp.dir": root / "tmp"})
    _site(conf / "hdfs-site.xml", {
        "dfs.namenode.name.dir": root / "name", "dfs.datanode.data.dir": root / "data", "dfs.replication": 1,
        "dfs.namenode.rpc-address": f"127.0.0.1:{rpc}", "dfs.namenode.http-address": f"127.0.0.1:{http}",
        "dfs.datanode.address": f"127.0.0.1:{proc.free_port()}",
        "dfs.datanode.http.address": f"127.0.0.1:{proc.free_port()}",
        "dfs.datanode.ipc.address": f"127.0.0.1:{proc.free_port()}", "dfs.datanode.hostname": "127.0.0.1",
        "dfs.webhdfs.enabled": "true", "dfs.permissions.enabled": "false", "dfs.namenode.safemode.extension": 0,
        "dfs.namenode.datanode.registration.ip-hostname-check": "false", "dfs.client.use.datanode.hostname": "true",
        "dfs.datanode.du.reserved": 0, "dfs.namenode.resource.du.reserved": 0,
    })
    return conf, rpc, http


def _wait_for_datanode(webhdfs: str, timeout: float = 90) -> None:
    """Until a file can be written (the DataNode registered): WebHDFS CREATE then DELETE."""
    from hdfs import InsecureClient

    client, deadline = InsecureClient(webhdfs, user="sparkdl"), time.time() + timeout
    while True:
        try:
            client.write("/.sparkdl-ready", b"1", overwrite=True)
            client.delete("/.sparkdl-ready")
            return
        except Exception:  # safe mode, no DataNode yet
            if time.time() > deadline:
                raise
            time.sleep(0.5)


@contextlib.contextmanager
def hdfs_cluster(root: Path):
    """Yield an HDFS running under `root` (metadata, blocks, logs); both daemons stopped on exit."""
    conf, rpc, http = _configure(Path(root))
    classpath = f"{conf}:{jars.classpath('hdfs')}"
    proc.run(proc.java(classpath, NAMENODE, "-format", "-force", "-nonInteractive"), Path(root) / "format.log")
    daemons = []
    try:
        daemons.append(proc.start(proc.java(classpath, NAMENODE), Path(root) / "namenode.log"))
        proc.wait_for_port(rpc, daemons[0], Path(root) / "namenode.log")
        daemons.append(proc.start(proc.java(classpath, DATANODE), Path(root) / "datanode.log"))
        _wait_for_datanode(f"http://127.0.0.1:{http}")
        yield HDFS(uri=f"hdfs://127.0.0.1:{rpc}", webhdfs=f"http://127.0.0.1:{http}")
    finally:
        for daemon in reversed(daemons):
            proc.stop(daemon)
