"""A rendered skeleton video read as Hallo4 reads it: framing, frame count and the check against the audio.

Framing (``skeleton_framing``): ``cover`` (the default; what every other video gets: scale to cover H x W, crop the
centre) or ``fit_height``, upstream's ``WanVace._resize_for_rectangle_crop`` (fudan-generative-vision/hallo4
@1ccca54, ``wan_vace.py``, applied to each window of the skeleton video in ``vace_wan_inference.py``): scale to
height H keeping the aspect (width ``int(w * H / h)``, bilinear with antialiasing, on the [-1, 1] values), then pad
the width with -1 (black) to W, ``(W - w') // 2`` on the left, or crop the centre ``(w' - W) // 2`` from the left.
A narrow skeleton is thus padded where ``cover`` would zoom in and cut off its top and bottom.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from storage.errors import CurateError

FRAMINGS = ("cover", "fit_height")


def fit_height(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(T, 3, h, w) float in [-1, 1] -> (T, 3, height, width), upstream's skeleton framing."""
    h, w = x.shape[-2:]
    new_w = int(w * height / h)
    if (h, w) != (height, new_w):
        x = F.interpolate(x, size=(height, new_w), mode="bilinear", antialias=True, align_corners=False)
    if new_w < width:
        left = (width - new_w) // 2
        return F.pad(x, (left, width - new_w - left, 0, 0), value=-1.0)
    left = (new_w - width) // 2
    return x[..., left: left + width]


def read_skeleton_video(path: str, num_frames: int, fps: float, height: int, width: int,
                        framing: str = "cover") -> torch.Tensor:
    """(3, num_frames, H, W) in [-1, 1]: frames at ``fps`` from the start (the cache's timestamps rule), framed."""
    import decord

    from trainer.media_decode import _fit, frame_indices

    if framing not in FRAMINGS:
        raise ValueError(f"skeleton_framing must be one of {FRAMINGS}. Got {framing!r}.")
    vr = decord.VideoReader(str(path))
    idx = frame_indices(len(vr), float(vr.get_avg_fps()), num_frames, fps)
    frames = torch.from_numpy(vr.get_batch(idx).asnumpy()).permute(0, 3, 1, 2)  # (T, 3, h, w) uint8
    if framing == "cover":
        from types import SimpleNamespace

        x = _fit(frames, SimpleNamespace(height=height, width=width))
    else:
        x = fit_height(frames.float() / 127.5 - 1, height, width).clamp(-1, 1)
    return x.permute(1, 0, 2, 3)


def check_fits_audio(path: str, audio_seconds: float, fps: float) -> None:
    """Refuse, before any work, a skeleton video whose length does not match the audio's to within two frames at
    the run's ``fps`` (upstream pairs skeleton frame i with audio frame i), or that has no frame rate."""
    import decord

    try:
        vr = decord.VideoReader(str(path))
    except (decord.DECORDError, RuntimeError, OSError) as e:
        raise CurateError(f"skeleton {path}: not a readable video ({type(e).__name__}).") from None
    n, src_fps = len(vr), float(vr.get_avg_fps())
    if not src_fps > 0 or n < 1:
        raise CurateError(f"skeleton {path}: no frames or no frame rate ({n} frames at {src_fps} fps).")
    seconds = n / src_fps
    if abs(seconds - audio_seconds) > 2 / fps:
        raise CurateError(f"skeleton {path}: {n} frames at {src_fps:g} fps = {seconds:.2f} s, the audio "
                          f"{audio_seconds:.2f} s (more than 2 frames at {fps:g} fps apart): not this clip's "
                          "skeleton, or cut differently.")

