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


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(ws, host: str = "127.0.0.1", port: int = 8501, gold_rate: float | None = None) -> int:
    """Serve the app in the foreground until Ctrl-C or SIGTERM; returns the server's exit status.

    SIGTERM (``kill``, a service manager) is handled like Ctrl-C, so the Streamlit child never
    outlives this process and keeps the port.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    proc = start(ws, host, port, gold_rate=gold_rate)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the shutdown short
        return stop(proc)
    finally:
        signal.signal(signal.SIGTERM, previous)
