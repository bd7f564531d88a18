"""`curate annotate`'s Streamlit child dies with it (kill -9 included), a busy port names its holder, and the app
serves at the root path only (a base path from the environment is refused, one from a config file overridden)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from annotate_app.web.server import port_holder
from tests.fixtures.browser import free_port as _free_port


def _curate(ws, port: int, cwd: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curation.cli", "annotate", "--port", str(port),
                             "-w", str(ws.root)], cwd=cwd, env={**os.environ, **(env or {})}, **kw)


def _healthy(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing healthy on port {port}")


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int, timeout: float = 15) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited; its reaper (init) has not collected it yet
            return True
        time.sleep(0.2)
    return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_kill_9_of_curate_annotate_takes_the_streamlit_child_with_it(sqlite_workspace, tmp_path):
    port = _free_port()
    parent = _curate(sqlite_workspace, port, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _healthy(port)
        (child,) = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _gone(child), "the Streamlit child outlived curate annotate"
        assert _port_free(port)
        again = _curate(sqlite_workspace, port, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _healthy(port)  # a restart on the same port works
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(30)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_busy_port_names_the_process_that_holds_it(sqlite_workspace, tmp_path, cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_holder(port).startswith(f"pid {os.getpid()} (")
        r = _curate(sqlite_workspace, port, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = r.communicate(timeout=60)
    assert r.returncode == 1, out
    line = out.strip().splitlines()[-1]
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} (" in line, out
    assert "Traceback" not in out


def test_a_base_path_in_the_environment_is_refused(sqlite_workspace, tmp_path):
    r = _curate(sqlite_workspace, _free_port(), tmp_path, env={"STREAMLIT_SERVER_BASE_URL_PATH": "pre"},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = r.communicate(timeout=60)
    assert r.returncode == 1, out
    assert "STREAMLIT_SERVER_BASE_URL_PATH='pre': curate annotate serves at the root path only" in out
    assert "Traceback" not in out


def test_a_base_path_in_a_config_file_is_overridden(sqlite_workspace, tmp_path):
    """Streamlit reads .streamlit/config.toml from the working folder; the app still serves at / with its guard."""
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text('[server]\nbaseUrlPath = "pre"\n')
    port = _free_port()
    proc = _curate(sqlite_workspace, port, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _healthy(port)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/media/0123abcd.mp4", timeout=5)
        assert e.value.code == 401  # Streamlit's media route is where the guard is, and guarded
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
