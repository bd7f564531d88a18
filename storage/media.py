"""Media checks shared by ingest, import and generation: hashing, decoding, probing, path safety.

decord does the decoding (it bundles FFmpeg, so no system ffmpeg is needed). Audio is
always read ``mono=True``: decord's stereo + resample path returns garbage samples.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.errors import CurateError
from storage.limits import DEFAULT_LIMITS

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


def check_image(path: Path, what: str, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of a decodable image of at most ``max_pixels`` pixels, else a CurateError naming ``what``.

    The size comes from the header, so an oversized image is refused before its pixels are decoded; Pillow's own
    decompression-bomb guard (raised before ours for huge files) gives the same one line.
    """
    from PIL import Image, UnidentifiedImageError

    cap = DEFAULT_LIMITS.max_image_pixels if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit speaks instead, on one line
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > cap:
                raise CurateError(_too_many_pixels(what, path, w, h, cap))
            im.load()  # decode the pixels, not just the header
            return im.size
    except Image.DecompressionBombError as e:
        size = re.search(r"\((\d+) pixels\)", str(e))
        raise CurateError(_too_many_pixels(what, path, None, None, cap, size and int(size.group(1)))) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CurateError(f"{what}: image does not decode ({path}): {e}") from None


def _too_many_pixels(what: str, path: Path, w: int | None, h: int | None, cap: int, n: int | None = None) -> str:
    size = f"{w} x {h} = {w * h} pixels" if w is not None else f"{n or 'too many'} pixels"
    return (f"{what}: image {_shown(path)} is {size}, more than limits.max_image_pixels = {cap} "
            "(curate.toml [limits]).")


def audio_duration(path: Path, what: str, max_seconds: float | None = None) -> float:
    """Duration in seconds of a decodable audio track (wav, mp3, m4a, or a video's audio), at most ``max_seconds``.

    A WAV file's length is read from its header first, so an over-long one is refused before it is decoded.
    """
    import decord

    cap = DEFAULT_LIMITS.max_audio_seconds if max_seconds is None else max_seconds
    header = _wav_seconds(path)
    if header is not None and header > cap:
        raise CurateError(_too_long(what, path, header, cap))
    try:
        ar = decord.AudioReader(str(path), sample_rate=16000, mono=True)
        duration = float(ar.shape[1]) / 16000.0
    except (decord.DECORDError, RuntimeError, ValueError) as e:
        raise CurateError(f"{what}: audio does not decode ({path}): {_first_line(e)}") from None
    if not duration > 0:
        raise CurateError(f"{what}: audio has no duration ({path}).")
    if duration > cap:
        raise CurateError(_too_long(what, path, duration, cap))
    return duration


def _wav_seconds(path: Path) -> float | None:
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate() if w.getframerate() > 0 else None
    except (wave.Error, EOFError, OSError):
        return None  # not a plain PCM WAV: decord decides


def _too_long(what: str, path: Path, seconds: float, cap: float) -> str:
    return (f"{what}: audio {_shown(path)} lasts {seconds:.1f} s, more than limits.max_audio_seconds = {cap:g} "
            "(curate.toml [limits]).")


@dataclass(frozen=True)
class VideoProbe:
    fps: float
    frame_count: int
    width: int
    height: int
    duration: float
    has_audio: bool
    audio_duration: float | None


def probe_video(path: Path, what: str, check_length: Callable[[float], None] | None = None) -> VideoProbe:
    """fps, frames, size, duration and audio presence of a video, read with decord.

    ``check_length(seconds)`` (a limit that raises) runs on the container's frame count before the audio track is
    decoded, so an over-long video is refused without reading it.
    """
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
    if check_length is not None:
        check_length(n / fps)
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
