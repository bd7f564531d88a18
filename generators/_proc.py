"""Running an upstream inference command in its own environment, logging everything it prints."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["UpstreamError", "die_with_parent", "last_error_line", "python_command", "python_path_env", "run_logged"]

_PR_SET_PDEATHSIG = 1
STDERR_TAIL_CHARS = 4000
# How batch_results words a clip the crash left without output (the worker reruns those alone).
CRASH_MARK = "before this clip's output was written"

# Runs before the upstream command: arm PR_SET_PDEATHSIG, then exec the command in place (the
# setting survives exec). Unlike preexec_fn this is safe while the worker has threads running.
_TRAMPOLINE = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL)\nexcept (OSError, AttributeError):\n    pass\n"
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


class UpstreamError(RuntimeError):
    """An upstream command failed; the message carries its exit status and the tail of its output."""


def python_command(python: str | None, conda_env: str | None) -> list[str]:
    """The argv prefix that starts the method's interpreter (a venv python, or ``conda run -n ENV python``)."""
    if conda_env:
        return ["conda", "run", "--no-capture-output", "-n", conda_env, "python"]
    return [python or "python"]


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere).

    A ``kill -9`` of ``curate generate`` must not leave GPU jobs running unseen:
    the next run would find their jobs held by a live pid and wait for them.
    """
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def run_logged(
    cmd: list[str],
    *,
    cwd: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``cmd`` with stdout+stderr appended to ``log_path``.

    Raises:
        UpstreamError: non-zero exit or timeout, with the command and the output's tail.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(map(str, cmd)) + f"\n  (cwd {cwd})\n").encode())
        log.flush()
        start = log.tell()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _TRAMPOLINE, *map(str, cmd)],
                cwd=cwd,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UpstreamError(f"{Path(str(cmd[-1])).name}: timed out after {timeout:.0f} s\n" + _tail(log_path, start)) from None
        except OSError as e:
            raise UpstreamError(f"cannot start {cmd[0]}: {e}") from None
    if proc.returncode != 0:
        raise UpstreamError(f"upstream exited with status {proc.returncode}: {' '.join(map(str, cmd[:4]))} ...\n" + _tail(log_path, start))


def _tail(log_path: Path, start: int) -> str:
    with open(log_path, "rb") as f:
        f.seek(max(start, os.path.getsize(log_path) - STDERR_TAIL_CHARS))
        return f.read().decode(errors="replace")


def last_error_line(text: str) -> str:
    """The upstream's last error line (a traceback's final line), from a failure message's output tail."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(("$ ", "(cwd", "upstream exited", "File ", "^")):
            return line
    return lines[-1] if lines else "upstream failed"


def python_path_env(checkout: Path | str, env: dict[str, str]) -> dict[str, str]:
    """``env`` with the checkout put first on PYTHONPATH, keeping what the caller's environment had.

    Replacing PYTHONPATH would hide packages the upstream's environment puts there (a Wan or
    SAT checkout, site customisations).
    """
    parts = [str(checkout), env.get("PYTHONPATH") or os.environ.get("PYTHONPATH") or ""]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in parts if p)}


def batch_results(reqs: list, collect, error: UpstreamError | None) -> list:
    """One result per request after a batch call: ``collect(r)`` for each, failed clips named by cause.

    When the batch crashed, clips whose output was written before the crash keep it; only
    those without an output fail, each with the upstream's last error line.
    """
    results = [collect(r) for r in reqs]
    if error is None:
        return results
    first = str(error).splitlines()[0]
    head = first.split(": ", 1)[0] if first.startswith("upstream exited") else first
    why = f"{head} {CRASH_MARK}: {last_error_line(str(error))}"
    return [res if res.ok else type(res)(res.job_id, error=why) for res in results]
