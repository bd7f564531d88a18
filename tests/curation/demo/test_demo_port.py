"""A second demo while the first is serving: the port is checked before anything is installed or reset,
the message names the process on the port and how to pick another, and a served workspace keeps its logins."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def taken_port():
    """A port this test process listens on (so it is the process the message must name)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_demo_sh_checks_the_port_before_installing(taken_port, tmp_path):
    venv = tmp_path / "venv-that-must-not-appear"
    env = dict(os.environ, CURATE_VENV=str(venv))
    t0 = time.monotonic()
    out = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), "--port", str(taken_port)],
                         check=False, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1
    assert time.monotonic() - t0 < 10  # no pip, no generators: it stopped at once
    assert f"Port {taken_port} is already in use by process {os.getpid()} (" in out.stderr
    assert f"bash scripts/demo.sh --port {taken_port + 1}" in out.stderr
    assert "nothing was installed or reset" in out.stderr
    assert "== 1/2 install" not in out.stderr and not venv.exists()


def test_demo_sh_port_equals_form(taken_port, tmp_path):
    env = dict(os.environ, CURATE_VENV=str(tmp_path / "v"))
    out = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), f"--port={taken_port}"],
                         check=False, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1 and f"Port {taken_port} is already in use" in out.stderr


def test_curate_demo_checks_the_port_first(cli, taken_port, tmp_path):
    target = tmp_path / "demo"
    r = cli("demo", target, "--port", str(taken_port))
    assert r.exit_code == 1 and f"Port {taken_port} is already in use (nothing was changed)" in r.output
    assert f"curate demo --port {taken_port + 1}" in r.output and "Traceback" not in r.output
    assert not target.exists()  # not even the workspace was made


def _wait_pid_file(ws, timeout=60):
    from annotate_app.web.server import serving

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if live := serving(ws):
            return live
        time.sleep(0.2)
    raise AssertionError("the serving process wrote no pid file")


@pytest.mark.slow
def test_a_served_workspace_keeps_its_logins(cli, tmp_path):
    from annotate_app.accounts import sign_in_password
    from annotate_app.web.server import port_free, serving
    from storage.workspace import load

    target = tmp_path / "demo"
    first = cli("demo", target, "--no-serve")
    assert first.exit_code == 0, first.output
    pw = re.search(r"demo\s+password (\S+)", first.output).group(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "-m", "curation.cli", "annotate", "-w", str(target), "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ws = load(target)
        assert _wait_pid_file(ws)[1] == port
        again = cli("demo", target, "--no-serve")
        assert again.exit_code == 0, again.output
        assert "This workspace is being served" in again.output and "password" not in again.output
        store = ws.open_store()
        try:
            assert sign_in_password(store, "demo", pw) is not None  # the open session's login still works
        finally:
            store.dispose()
        end = time.monotonic() + 60
        while port_free(port) and time.monotonic() < end:
            time.sleep(0.2)
        busy = cli("demo", target, "--port", str(port))
        assert busy.exit_code == 1 and "already in use" in busy.output
    finally:
        app.terminate()
        app.wait(timeout=30)
    assert serving(ws) is None  # the pid file went with the server
