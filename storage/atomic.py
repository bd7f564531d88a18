"""One way to write a file so readers see the old file or the whole new one, never half of either.

Every package writes its outputs through these helpers (Parquet manifests, dataset cards, videos, checkpoints,
JSON job files): a temporary name in the target's folder (same file system, so the rename is atomic), the data
flushed and fsync'ed, then ``os.replace`` over the target. On any error the temporary file is removed and the
target is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from storage.errors import CurateError


class DiskFullError(CurateError):
    """The disk filled during an atomic write; the target was left as it was and the temporary file removed."""


def _fsync_file(path: Path) -> None:
    # A rename is only durable once the data it points at is on disk; writers that hand us a path (ffmpeg,
    # pyarrow, safetensors) close their own handle, so reopen it to fsync.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems refuse O_RDONLY on folders; the rename still holds
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``, else it is removed.

    The temporary name keeps ``path``'s suffix (ffmpeg and pyarrow pick the format from it) and starts with a dot
    so listings and globs of the folder never see it.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
        if fsync:
            _fsync_dir(path.parent)
    except OSError as e:
        if not is_disk_full(e):
            raise
        written = tmp.stat().st_size if tmp is not None and tmp.exists() else 0
        if tmp is not None:
            tmp.unlink(missing_ok=True)  # free what we took before measuring what is left
        raise DiskFullError(disk_full_message(path, written)) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def is_disk_full(e: BaseException) -> bool:
    """ENOSPC / EDQUOT, also from writers (pyarrow, ffmpeg wrappers) that raise OSError without an errno."""
    return isinstance(e, OSError) and (e.errno in (errno.ENOSPC, errno.EDQUOT) or
                                       "no space left on device" in str(e).lower())


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def disk_full_message(path: Path, written: int) -> str:
    """One line: the folder, the space free there, and how much the write needed (more than it had written)."""
    folder = path.parent
    try:
        free = _size(shutil.disk_usage(folder).free)
    except OSError:
        free = "unknown"
    return (f"{path}: no space left in {folder} ({free} free); writing it needs more than the {_size(written)} it "
            "had written when the disk filled. Nothing was replaced; free some space there (or write elsewhere) "
            "and run again.")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], *, fsync: bool = True) -> Path:
    """``write(tmp)`` then rename over ``path``; returns ``path``."""
    with atomic_path(path, fsync=fsync) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = True) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = True) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), fsync=fsync)
