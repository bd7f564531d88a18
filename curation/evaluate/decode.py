"""Decode a video (frames and 16 kHz mono audio) once, for every metric.

Audio is what syncnet_python feeds SyncNet: the bundled ffmpeg's ``-ac 1 -ar 16000`` output as
16-bit integers (its downmix and resampler, silence an exact 0), not a float decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storage.errors import CurateError

AUDIO_RATE = 16000  # SyncNet's MFCCs are computed at 16 kHz


@dataclass
class Decoded:
    """All frames of one video, uint8 (T, H, W, 3) RGB, and its audio (int16 mono, 16 kHz) if any."""

    path: Path
    frames: np.ndarray
    fps: float
    audio: np.ndarray | None

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def _ffmpeg_audio(path: Path) -> tuple[bytes, str]:
    """(s16le bytes, ffmpeg's last error line) of the first audio stream, 16 kHz mono."""
    import subprocess

    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
           "-vn", "-ac", "1", "-ar", str(AUDIO_RATE), "-acodec", "pcm_s16le", "-f", "s16le", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    err = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
    return (proc.stdout if proc.returncode == 0 else b""), (err[-1][:200] if err else "")


def read_audio(path: str | Path, what: str, required: bool = False) -> np.ndarray | None:
    """16 kHz mono int16 samples as ``ffmpeg -ac 1 -ar 16000`` gives them; None when the file has no
    audio stream, unless ``required``.

    Raises:
        CurateError: ``required`` (the clip's driving audio) and the file does not decode.
    """
    data, err = _ffmpeg_audio(Path(path))
    if not data:
        if required:
            reason = err or "no audio samples"
            raise CurateError(f"{what}: driving audio does not decode ({path}): {reason}")
        return None
    return np.frombuffer(data, dtype="<i2").copy()


def _read_frames(path: Path, what: str = "video", max_frames: int | None = None) -> tuple[np.ndarray, float]:
    # The bundled ffmpeg, not decord: decord's batch and single-frame reads return wrong pixels
    # (4 channels, shifted rows) for some widths such as 48 and 72.
    import imageio_ffmpeg

    from storage.limits import DEFAULT_LIMITS

    cap = DEFAULT_LIMITS.max_decoded_frames if max_frames is None else max_frames
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
        w, h = meta["size"]
        frames = []
        for buf in gen:  # streamed: stop at the cap instead of holding a long video in memory
            if len(frames) == cap:
                raise CurateError(f"{what}: {path} has more than {cap} frames, the most decoded at once "
                                  "(limits.max_decoded_frames); a candidate this long is refused at import.")
            frames.append(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
    finally:
        gen.close()
    return (np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)), float(meta.get("fps") or 0)


def decode(path: str | Path, what: str, audio_from: str | Path | None = None, audio: bool = True,
           max_frames: int | None = None) -> Decoded:
    """Every frame of ``path``; audio (only if ``audio``) from ``audio_from`` (the clip's driving audio),
    else the video's own track. At most ``max_frames`` frames (default ``limits.max_decoded_frames``) are held.

    Raises:
        CurateError: naming ``what`` when the file does not decode or has more frames than the cap.
    """
    path = Path(path)
    try:
        frames, fps = _read_frames(path, what, max_frames)
    except CurateError:
        raise
    except (OSError, RuntimeError, ValueError, StopIteration, KeyError) as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        msg = lines[-1][:200] if lines else type(e).__name__
        raise CurateError(f"{what}: video does not decode ({path}): {msg}") from None
    if len(frames) == 0 or fps <= 0:
        raise CurateError(f"{what}: video has no frames ({path}).")
    samples = None
    if audio:
        samples = read_audio(
            audio_from if audio_from is not None else path, what, required=audio_from is not None
        )
    return Decoded(path=path, frames=frames, fps=fps, audio=samples)


def resize_frames(frames: np.ndarray, height: int, width: int):
    """uint8 (T, H, W, 3) -> float32 (T, 3, h, w) in [0, 1]; bilinear, antialiased, when the size differs."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (height, width):
        x = F.interpolate(
            x, size=(height, width), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0, 1)
    return x
