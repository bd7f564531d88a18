"""Serving the Streamlit app: ``streamlit run`` headless, bound to localhost, no usage stats.

The workspace and database URL travel in the environment (``CURATE_WORKSPACE``,
``CURATE_DB_URL``), never on the command line, so a database password never shows
up in ``ps`` output or logs; so does ``CURATE_MEDIA_KEY``, the key that signs media URLs.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

# The st.App that wraps app.py with the media checks (annotate_app/web/media_guard.py).
APP = Path(__file__).with_name("asgi_app.py")


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The argv that serves the app (no secrets in it)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        # A failure the pages' guard (chrome.guarded) did not catch still shows no traceback or path.
        "--client.showErrorDetails", "none",
        "--global.developmentMode", "false",
    ]


def app_env(ws, base: dict[str, str] | None = None, gold_rate: float | None = None) -> dict[str, str]:
    """The environment for the app process: the workspace folder, its database URL, the gold rate."""
    env = dict(os.environ if base is None else base)
    if gold_rate is not None:
        env["CURATE_GOLD_RATE"] = str(gold_rate)
    env["CURATE_WORKSPACE"] = str(ws.root)
    env["CURATE_DB_URL"] = ws.database_url
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    # Signs the short-lived media URLs; new per start (a restart voids old links) unless set.
    env["CURATE_MEDIA_KEY"] = env.get("CURATE_MEDIA_KEY") or secrets.token_urlsafe(32)
    return env


def start(ws, host: str = "127.0.0.1", port: int = 8501, gold_rate: float | None = None, **popen) -> subprocess.Popen:
    """Start the app in the background; the caller stops it with :func:`stop`."""
    return subprocess.Popen(streamlit_command(host, port), env=app_env(ws, gold_rate=gold_rate), **popen)


def stop(proc: subprocess.Popen, timeout: float = 10) -> int:
    """Ask the server to stop (SIGTERM), wait ``timeout`` seconds, then kill it; returns its exit status."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# While an app serves a workspace: "<pid> <port>" of the serving process (``curate demo`` reads it and
# keeps the logins of a workspace in use: new ones would sign the open tabs out).
PID_FILE = ("logs", "app.pid")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` (so the app can bind it)."""
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serving(ws) -> tuple[int, int] | None:
    """``(pid, port)`` of the live process serving ``ws``, None when none is (a stale file is ignored)."""
    try:
        pid, port = (int(x) for x in ws.path(*PID_FILE).read_text().split())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid, port


def _mark_serving(ws, port: int) -> None:
    path = ws.path(*PID_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()} {port}\n")


def _unmark_serving(ws) -> None:
    if (serving(ws) or (None,))[0] == os.getpid():
        ws.path(*PID_FILE).unlink(missing_ok=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(ws, host: str = "127.0.0.1", port: int = 8501, gold_rate: float | None = None) -> int:
    """Serve the app in the foreground until Ctrl-C or SIGTERM; returns the server's exit status.

    SIGTERM (``kill``, a service manager) is handled like Ctrl-C, so the Streamlit child never
    outlives this process and keeps the port.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    proc = start(ws, host, port, gold_rate=gold_rate)
    _mark_serving(ws, port)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the shutdown short
        return stop(proc)
    finally:
        _unmark_serving(ws)
        signal.signal(signal.SIGTERM, previous)
