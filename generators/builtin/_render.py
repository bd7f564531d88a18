"""Shared pixels-and-samples helpers of the built-in generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


def load_rgb(path: Path) -> np.ndarray:
    """The image as (H, W, 3) uint8, cropped by at most one pixel per side to even sizes (H.264)."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    h, w = arr.shape[:2]
    return np.ascontiguousarray(arr[: h - h % 2, : w - w % 2])


def frame_count(seconds: float, fps: float) -> int:
    return max(1, round(seconds * fps))


def loudness_envelope(audio: Path, fps: float, n_frames: int, offset_seconds: float = 0.0) -> np.ndarray:
    """Per-video-frame loudness in [0, 1]: RMS over each frame's window, scaled by the 95th percentile.

    ``offset_seconds`` > 0 delays the envelope (frame t follows the audio at t - offset),
    which is what a badly synchronised generator looks like.
    """
    import decord

    reader = decord.AudioReader(str(audio), sample_rate=SAMPLE_RATE, mono=True)
    x = reader[:].asnumpy().reshape(-1).astype(np.float64)
    hop = SAMPLE_RATE / fps
    rms = np.zeros(n_frames)
    for i in range(n_frames):
        seg = x[int(i * hop) : int((i + 1) * hop)]
        rms[i] = np.sqrt(np.mean(seg**2)) if len(seg) else 0.0
    shift = round(offset_seconds * fps)
    if shift > 0:
        rms = np.concatenate([np.zeros(min(shift, n_frames)), rms[: max(0, n_frames - shift)]])
    scale = np.percentile(rms, 95) if np.any(rms > 0) else 1.0
    return np.clip(rms / max(scale, 1e-9), 0.0, 1.0)


def write_frames(path: Path, frames, size: tuple[int, int], fps: float) -> Path:
    """Encode an iterable of (H, W, 3) uint8 frames as an H.264 mp4 with no audio."""
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
        output_params=["-preset", "veryfast"], ffmpeg_log_level="error",
    )
    writer.send(None)
    try:
        for f in frames:
            writer.send(np.ascontiguousarray(f))
    finally:
        writer.close()
    return path
