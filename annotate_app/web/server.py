"""Serving the Streamlit app: ``streamlit run`` headless, bound to localhost, no usage stats.

The workspace and database URL travel in the environment (``CURATE_WORKSPACE``,
``CURATE_DB_URL``), never on the command line, so a database password never shows
up in ``ps`` output or logs; so does ``CURATE_MEDIA_KEY``, the key that signs media URLs.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from storage.errors import CurateError

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
        # Always at the root path: a base path from a .streamlit/config.toml would move the pages away from what
        # the media guard and the player expect (a command-line flag wins over config files).
        "--server.baseUrlPath", "",
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
    """Start the app in the background; the caller stops it with :func:`stop`.

    The child gets SIGTERM when this process dies, however it dies (kill -9 included), so it never keeps
    serving, and holding the port, on its own.
    """
    env = app_env(ws, gold_rate=gold_rate)
    check_base_path(env)
    check_port_free(host, port)
    popen.setdefault("preexec_fn", dies_with_parent(os.getpid()))
    return subprocess.Popen(streamlit_command(host, port), env=env, **popen)


BASE_PATH_ENV = "STREAMLIT_SERVER_BASE_URL_PATH"


def check_base_path(env: dict[str, str]) -> None:
    """Refuse a base URL path from the environment (Streamlit would read it): the app serves at the root only."""
    if env.get(BASE_PATH_ENV, "").strip("/"):
        raise CurateError(
            f"{BASE_PATH_ENV}={env[BASE_PATH_ENV]!r}: curate annotate serves at the root path only (its media "
            "checks and the player assume it); unset it and map the prefix in your reverse proxy.")


def dies_with_parent(parent_pid: int):
    """A ``preexec_fn`` that asks Linux to send the child SIGTERM when ``parent_pid`` dies (PR_SET_PDEATHSIG)."""
    def arm() -> None:
        if not sys.platform.startswith("linux"):
            return
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)

    return arm


PR_SET_PDEATHSIG = 1


def check_port_free(host: str, port: int) -> None:
    """One line naming the process that holds ``port``, before Streamlit fails with "Port ... is not available"."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise CurateError(f"cannot serve on {host}:{port}: {e.strerror}.") from None
    raise CurateError(f"port {port} on {host} is already in use by {port_holder(port)}; stop it or pick "
                      "another --port.")


def port_holder(port: int) -> str:
    """"pid N (command line)" of the process listening on ``port``, from /proc, as far as this user may see."""
    sockets = {f"socket:[{n}]" for n in _listening_inodes(port)}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        if sockets & _links(fd_dir):
            pid = fd_dir.parent.name
            try:
                cmd = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            return f"pid {pid} ({cmd[:160]})"
    return "another process (not visible to this user)"


def _links(fd_dir: Path) -> set[str]:
    """What a process's open descriptors point at; empty for another user's process or one that is gone."""
    out = set()
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return out
    for fd in fds:
        try:
            out.add(os.readlink(fd))
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return out


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes in LISTEN state (0A) on ``port`` from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                found.add(f[9])
    return found


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
    # Ctrl-C too, explicitly: a process started in the background by a non-interactive shell (nohup, `&` in a
    # script) inherits SIGINT ignored, and would otherwise never stop its Streamlit child on Ctrl-C / kill -INT.
    previous_int = signal.signal(signal.SIGINT, _interrupt)
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
        signal.signal(signal.SIGINT, previous_int)
