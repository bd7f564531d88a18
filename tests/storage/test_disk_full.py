"""A full disk during an atomic write (export ratings, build-pairs --out): one line naming the folder and the space,
the target left as it was, no temporary file behind."""

from __future__ import annotations

import errno
import gc
import os
import subprocess

import pytest

from storage.atomic import DiskFullError, atomic_write
from tests.fixtures.pairs_data import rating, write_ratings


def test_enospc_from_a_writer_is_one_line_and_leaves_the_target(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def writer(tmp):
        tmp.write_bytes(b"x" * 1234)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError) as e:
        atomic_write(target, writer)
    msg = str(e.value)
    assert msg.startswith(f"{target}: no space left in {tmp_path} (")
    assert "needs more than the 1.2 kB it had written" in msg and "\n" not in msg
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_pyarrow_style_error_without_errno_is_recognised(tmp_path):
    def writer(tmp):
        raise OSError("IOError: No space left on device. Detail: [errno 28]")  # pyarrow's shape: no errno set

    with pytest.raises(DiskFullError, match="no space left in"):
        atomic_write(tmp_path / "m.parquet", writer)
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_are_not_called_disk_full(tmp_path):
    def writer(tmp):
        raise OSError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        atomic_write(tmp_path / "m.parquet", writer)


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs filled to the last byte (needs root to mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the ENOSPC path is covered by the tests above")
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        (out := mnt / "out").mkdir()
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield out
    finally:
        gc.collect()  # a writer that failed may hold its handle until collected
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def _assert_one_line(r, folder):
    assert r.exit_code == 1, r.output
    (line,) = r.output.strip().splitlines()
    assert f"no space left in {folder} (" in line and "Traceback" not in r.output, line
    assert list(folder.iterdir()) == []


def test_build_pairs_out_on_a_full_disk(full_disk, tmp_path, cli):
    ratings = write_ratings(tmp_path / "r.parquet", [rating("c1", "x", "a", 5, 5), rating("c1", "y", "a", 1, 1)])
    r = cli("build-pairs", "--ratings", ratings, "--out", full_disk / "p.parquet")
    _assert_one_line(r, full_disk)


def test_export_ratings_on_a_full_disk(full_disk, sqlite_workspace, cli):
    r = cli("export", "ratings", "--out", full_disk / "r.csv", "-w", sqlite_workspace.root)
    _assert_one_line(r, full_disk)
