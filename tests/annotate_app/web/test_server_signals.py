"""SIGTERM and Ctrl-C (SIGINT) to `curate annotate` stop the Streamlit child: the port is free afterwards.

`curate demo` serves through the same `annotate_app.web.server.serve`, so this covers it too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.fixtures.browser import free_port, wait_healthy


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_curate_annotate_stops_the_server(sqlite_workspace, tmp_path, sig):
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed in finally, after the process)
    kids: list[int] = []
    proc = subprocess.Popen([sys.executable, "-m", "curation.cli", "annotate", "--port", str(port),
                             "-w", str(sqlite_workspace.root)], stdout=log, stderr=log, env=dict(os.environ))
    try:
        wait_healthy(port, proc)
        kids = _children(proc.pid)
        assert len(kids) == 1  # the Streamlit server
        proc.send_signal(sig)
        assert proc.wait(timeout=40) is not None  # the child gets 10 s, then a kill; slack for a loaded machine
        end = time.monotonic() + 10
        while _alive(kids[0]) and time.monotonic() < end:
            time.sleep(0.1)
        assert not _alive(kids[0]), (tmp_path / "serve.log").read_text()
        assert _port_free(port)
    finally:
        for pid in [*kids, proc.pid]:  # never leave a server behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        log.close()
