"""`curate -v` reaches the loggers of the command and of the processes it starts."""

from __future__ import annotations

import logging
import subprocess
import sys

from storage.logs import ENV, configure, level_for


def test_levels_by_hand():
    assert [level_for(v) for v in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG]


def test_level_travels_to_a_child_process(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    try:
        configure(level_for(2))
        child = "from storage.logs import configure; import logging; configure(); " \
                "logging.getLogger('generators.worker').debug('seen at debug')"
        out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
        assert "DEBUG generators.worker: seen at debug" in out.stderr
    finally:
        configure(logging.WARNING)
        monkeypatch.delenv(ENV, raising=False)


def test_quiet_by_default_in_a_child(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    child = "from storage.logs import configure; import logging; configure(); logging.getLogger('x').info('hidden')"
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert out.stderr == ""


def test_verbose_cli_error_is_still_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    out = subprocess.run([sys.executable, "-m", "curation.cli", "-vv", "status", "-w", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr  # no workspace there: one clear line
    assert "curate.toml" in out.stderr or "workspace" in out.stderr.lower()
