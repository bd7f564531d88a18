"""Media decode for the cache and for sampling: video frames, a reference image and audio samples as tensors.

Every reader resizes to cover ``s.height x s.width`` and crops the centre (``s`` is a
:class:`trainer.cache.CacheSettings`, or anything with its frame fields), so cached entries and the conditions
sampling builds see the same pixels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from storage.errors import CurateError

if TYPE_CHECKING:  # the cache imports this module
    from trainer.cache import CacheSettings

AUDIO_RATE = 16000


def decode_clip_frames(path: str, s: CacheSettings) -> torch.Tensor:
    """(3, num_frames, H, W) in [-1, 1]: frames at ``s.fps`` from the start, resized to cover and centre-cropped."""
    import decord

    vr = decord.VideoReader(str(path))
    idx = frame_indices(len(vr), float(vr.get_avg_fps()), s.num_frames, s.fps)
    frames = torch.from_numpy(vr.get_batch(idx).asnumpy()).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
    return _fit(frames, s).permute(1, 0, 2, 3)


def frame_indices(n_src: int, src_fps: float, num_frames: int, fps: float) -> list[int]:
    """Output frame i shows time i / fps: take the source frame on screen then (the last one past the end)."""
    return [min(math.floor(i / fps * src_fps + 1e-6), n_src - 1) for i in range(num_frames)]


def read_image(path: str, s: CacheSettings) -> torch.Tensor:
    """(3, 1, H, W) in [-1, 1], resized and cropped like the video frames."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return _fit(torch.from_numpy(arr.copy()).permute(2, 0, 1)[None], s).permute(1, 0, 2, 3)


def _fit(frames: torch.Tensor, s: CacheSettings) -> torch.Tensor:
    """uint8 (T, 3, h, w) -> float (T, 3, H, W) in [-1, 1]: scale to cover H x W (aspect kept), crop the centre."""
    h, w = frames.shape[-2:]
    scale = max(s.height / h, s.width / w)
    size = (max(s.height, round(h * scale)), max(s.width, round(w * scale)))
    x = frames.float() / 127.5 - 1
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - s.height) // 2, (size[1] - s.width) // 2
    return x[..., top: top + s.height, left: left + s.width].clamp(-1, 1)


def read_audio(path: str, seconds: float, strict: bool = False, samples: torch.Tensor | None = None) -> torch.Tensor:
    """16 kHz mono samples of the first ``seconds`` (zero-padded, or refused with ``strict``: training on silence
    the video does not have would teach lip motion without sound). decord's stereo + resample path returns
    garbage, so audio is always read ``mono=True``. ``samples``: the file's 16 kHz samples already decoded (the
    separated vocals), cut and checked the same way."""
    if samples is None:
        import decord

        ar = decord.AudioReader(str(path), sample_rate=AUDIO_RATE, mono=True)
        samples = torch.from_numpy(ar[:].asnumpy()[0].astype("float32"))
    x = samples
    n = round(seconds * AUDIO_RATE)
    if strict and x.shape[0] < n:
        raise CurateError(f"{path}, column 'audio': the audio lasts {x.shape[0] / AUDIO_RATE:.3f} s, shorter than "
                          f"the {seconds:.3f} s of video frames it must drive (num_frames / fps).")
    return F.pad(x[:n], (0, max(0, n - x.shape[0])))
