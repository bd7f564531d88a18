"""Decode a video (frames and 16 kHz mono audio) once, for every metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storage.errors import CurateError

AUDIO_RATE = 16000  # SyncNet's MFCCs are computed at 16 kHz


@dataclass
class Decoded:
    """All frames of one video, uint8 (T, H, W, 3) RGB, and its audio (float32 mono) if any."""

    path: Path
    frames: np.ndarray
    fps: float
    audio: np.ndarray | None

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def read_audio(path: str | Path, what: str, required: bool = False) -> np.ndarray | None:
    """16 kHz mono float32 samples; None when the file has no audio stream, unless ``required``.

    Raises:
        CurateError: ``required`` (the clip's driving audio) and the file does not decode.
    """
    import decord

    try:
        ar = decord.AudioReader(str(path), sample_rate=AUDIO_RATE, mono=True)
    except (decord.DECORDError, RuntimeError, ValueError) as e:  # "Can't find audio stream"
        if required:
            raise CurateError(
                f"{what}: driving audio does not decode ({path}): {str(e).splitlines()[0][:200]}"
            ) from None
        return None
    return np.asarray(ar[:].asnumpy(), dtype=np.float32).reshape(-1)


def _read_frames(path: Path) -> tuple[np.ndarray, float]:
    # The bundled ffmpeg, not decord: decord's batch and single-frame reads return wrong pixels
    # (4 channels, shifted rows) for some widths such as 48 and 72.
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
        w, h = meta["size"]
        frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in gen]
    finally:
        gen.close()
    return (np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)), float(meta.get("fps") or 0)


def decode(path: str | Path, what: str, audio_from: str | Path | None = None, audio: bool = True) -> Decoded:
    """Every frame of ``path``; audio (only if ``audio``) from ``audio_from`` (the clip's driving audio),
    else the video's own track.

    Raises:
        CurateError: naming ``what`` when the file does not decode.
    """
    path = Path(path)
    try:
        frames, fps = _read_frames(path)
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
