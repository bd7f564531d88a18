"""Log verbosity for the command and every process it starts (generator workers, Ray tasks, the app).

``curate -v`` sets the level once; it travels to child processes in ``CURATE_LOG_LEVEL``, so a
worker started with ``python -m generators.worker`` or the Streamlit server logs at the same level.
"""

from __future__ import annotations

import logging
import os

ENV = "CURATE_LOG_LEVEL"
FORMAT = "%(levelname)s %(name)s: %(message)s"


def level_for(verbose: int) -> int:
    """WARNING by default, INFO with -v, DEBUG with -vv or more."""
    return max(logging.WARNING - 10 * verbose, logging.DEBUG)


def configure(level: int | None = None) -> int:
    """Set the root logger's level (from ``level``, else ``$CURATE_LOG_LEVEL``, else WARNING) and export it."""
    if level is None:
        raw = os.environ.get(ENV, "")
        level = int(raw) if raw.isdigit() else logging.WARNING
    root = logging.getLogger()
    if not root.handlers:  # keep handlers someone installed (pytest's caplog, an embedding program)
        logging.basicConfig(format=FORMAT)
    root.setLevel(level)
    os.environ[ENV] = str(level)
    return level
