"""Process liveness, shared by the generation runner (stale job claims) and the latent cache (stale temp files)."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists on this host and is not a zombie.

    A zombie has exited but not been reaped yet: its claim or temp file is as dead as
    one whose process is gone, so it counts as not alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): kill(0) said it exists
        return True
