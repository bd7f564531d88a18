"""Media checks shared by ingest, import and generation: hashing, decoding, probing, path safety.

decord does the decoding (it bundles FFmpeg, so no system ffmpeg is needed). Audio is
always read ``mono=True``: decord's stereo + resample path returns garbage samples.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from storage.errors import CurateError

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, streamed in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def check_path_text(value: str, what: str) -> None:
    """Refuse a path cell the OS cannot even look up (a NUL byte makes ``Path.resolve`` raise ValueError)."""
    if "\x00" in value:
        raise CurateError(f"{what}: path {value!r} contains a NUL byte.")


def _shown(path: Path) -> str:
    """A path for a one-line message: as is, or escaped (repr) when it holds a newline or control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def resolve_media_path(value: str, base: Path, roots: list[Path], what: str) -> Path:
    """Resolve a manifest path (relative to ``base``) and refuse it unless it lies inside ``base`` or a root.

    Symlinks are resolved first, so a link cannot smuggle a path out of the roots.

    Raises:
        CurateError: naming ``what`` (file, row, column) when the path escapes or does not exist.
    """
    if not isinstance(value, str) or not value.strip():
        raise CurateError(f"{what}: empty path.")
    check_path_text(value, what)
    p = Path(value)
    resolved = (p if p.is_absolute() else base / p).resolve()
    allowed = [base.resolve(), *roots]
    if not any(is_within(resolved, r) for r in allowed):
        raise CurateError(
            f"{what}: path {value!r} resolves to {_shown(resolved)}, outside the manifest's folder and the media roots "
            f"({', '.join(str(r) for r in roots)}). Add a root under [media] roots in curate.toml if this is intended."
        )
    if not resolved.is_file():
        raise CurateError(f"{what}: file not found: {_shown(resolved)}")
    if not os.access(resolved, os.R_OK):
        raise CurateError(f"{what}: file not readable: {_shown(resolved)}")
    return resolved


def check_image(path: Path, what: str) -> tuple[int, int]:
    """(width, height) of a decodable image, else a CurateError naming ``what``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # decode the pixels, not just the header
            return im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CurateError(f"{what}: image does not decode ({path}): {e}") from None


def audio_duration(path: Path, what: str) -> float:
    """Duration in seconds of a decodable audio track (wav, mp3, m4a, or a video's audio)."""
    import decord

    try:
        ar = decord.AudioReader(str(path), sample_rate=16000, mono=True)
        duration = float(ar.shape[1]) / 16000.0
    except (decord.DECORDError, RuntimeError, ValueError) as e:
        raise CurateError(f"{what}: audio does not decode ({path}): {_first_line(e)}") from None
    if not duration > 0:
        raise CurateError(f"{what}: audio has no duration ({path}).")
    return duration


@dataclass(frozen=True)
class VideoProbe:
    fps: float
    frame_count: int
    width: int
    height: int
    duration: float
    has_audio: bool
    audio_duration: float | None


def probe_video(path: Path, what: str) -> VideoProbe:
    """fps, frames, size, duration and audio presence of a video, read with decord."""
    import decord

    try:
        vr = decord.VideoReader(str(path))
        n = len(vr)
        fps = float(vr.get_avg_fps())
        h, w = vr[0].shape[:2] if n else (0, 0)
    except (decord.DECORDError, RuntimeError, ValueError, IndexError) as e:
        raise CurateError(f"{what}: video does not decode ({path}): {_first_line(e)}") from None
    if n == 0 or fps <= 0:
        raise CurateError(f"{what}: video has no frames ({path}).")
    try:
        ar = decord.AudioReader(str(path), sample_rate=16000, mono=True)
        has_audio, a_dur = True, float(ar.shape[1]) / 16000.0
    except (decord.DECORDError, RuntimeError, ValueError):  # "Can't find audio stream"
        has_audio, a_dur = False, None
    return VideoProbe(fps, n, int(w), int(h), n / fps, has_audio, a_dur)


def _first_line(e: Exception) -> str:
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    msg = lines[0] if lines else type(e).__name__
    # decord prefixes "[hh:mm:ss] /path/to/source.cc:123: "; keep the readable part
    return msg.split(": ", 1)[-1] if msg.startswith("[") else msg
