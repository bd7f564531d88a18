"""The skeleton branch's encoder (Hallo4 sec. 3.3): 2D keypoints (T, J, 3) -> C_skel on the latent grid.

Keypoints are (x, y, confidence) with x, y in [0, 1] (fractions of the frame's width and height, as the DWPose /
OpenPose exporters normalise them). Each frame's joints become J Gaussian heatmaps (sigma = one latent cell,
scaled by the confidence) on the latent grid H' x W'; a small convolutional network maps them to d_k channels and
downsamples by ``stride`` so the token count per frame stays moderate (Wan2.1 at 480x832: a 60x104 latent grid,
stride 4 -> 390 tokens). The result (B, T, H'W' / stride^2, d_k) keeps the video's frame rate; the temporal reshape
of eq. 6 (``trainer.motion.reshape``) then lays each latent frame's rho frames side by side.

A clip's ``skeleton`` file is either a NumPy ``.npy`` (or ``.npz`` with one array) of keypoints (T, J, 3), float,
one row per frame at the cache's ``fps`` (:func:`read_keypoints` checks it and names the file and the field), or a
rendered skeleton video (any file decord reads, e.g. DWPose's drawn skeletons), sampled like the clip's video and
averaged down to the latent grid: its 3 colour channels then take the heatmaps' place as the encoder's input.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from storage.errors import CurateError

KEYPOINT_SUFFIXES = (".npy", ".npz")


def is_keypoint_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in KEYPOINT_SUFFIXES


def heatmaps(keypoints: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(N, J, 3) keypoints -> (N, J, h, w) Gaussian maps (peak = confidence at the joint's cell centre)."""
    h, w = grid
    ys = (torch.arange(h, device=keypoints.device, dtype=keypoints.dtype) + 0.5)[None, None, :, None]
    xs = (torch.arange(w, device=keypoints.device, dtype=keypoints.dtype) + 0.5)[None, None, None, :]
    x, y, conf = (keypoints[..., i, None, None] for i in range(3))
    d2 = (xs - x * w) ** 2 + (ys - y * h) ** 2
    return conf * torch.exp(-0.5 * d2)


class SkeletonEncoder(nn.Module):
    """Heatmaps -> conv 3x3 (J -> d_k) -> log2(stride) stride-2 convs -> (B, T, tokens, d_k)."""

    def __init__(self, joints: int, channels: int, stride: int = 4):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(joints, channels, 3, padding=1), nn.SiLU()]
        for _ in range(int(math.log2(stride))):
            layers += [nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.SiLU()]
        self.net = nn.Sequential(*layers[:-1])  # no activation on the output: eq. 7's projection follows
        self.joints = joints

    def forward(self, skeleton: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Keypoints (B, T, J, 3) or rendered frames (B, T, 3, h, w) in [0, 1] -> (B, T, tokens, d_k)."""
        b, t = skeleton.shape[:2]
        if skeleton.dim() == 5:  # a rendered skeleton video: its colours are the input maps
            maps = skeleton.flatten(0, 1)
            if tuple(maps.shape[-2:]) != tuple(grid):
                maps = torch.nn.functional.interpolate(maps, size=grid, mode="area")
        else:
            maps = heatmaps(skeleton.reshape(b * t, skeleton.shape[2], 3), grid)
        if maps.shape[1] != self.joints:
            raise ValueError(f"the skeleton gives {maps.shape[1]} input maps (joints, or 3 colours of a rendered "
                             f"video), the encoder takes {self.joints}.")
        out = self.net(maps)  # (B*T, d_k, h', w')
        return out.flatten(2).transpose(1, 2).reshape(b, t, -1, out.shape[1])


def read_keypoints(path: str | Path, num_frames: int, joints: int | None = None, where: str = "") -> torch.Tensor:
    """A clip's keypoints (num_frames, J, 3) from ``.npy`` / ``.npz``; the first num_frames frames are kept.
    ``where`` names the manifest cell in errors (default: the file and the column)."""
    import numpy as np

    what = where or f"{path}, column 'skeleton'"
    try:
        data = np.load(str(path), allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            arrays = list(data.values())
            if len(arrays) != 1:
                raise CurateError(f"{what}: an .npz skeleton must hold exactly one array, found {len(arrays)}.")
            data = arrays[0]
    except (OSError, ValueError) as e:
        raise CurateError(f"{what}: not a NumPy keypoint array (.npy/.npz) ({path}): {e}") from None
    if data.ndim != 3 or data.shape[2] != 3 or (joints is not None and data.shape[1] != joints):
        want = f"(T, {joints}, 3)" if joints else "(T, J, 3)"
        raise CurateError(f"{what}: keypoints must have shape {want} (x, y, confidence), got {data.shape} ({path}).")
    if data.shape[0] < num_frames:
        raise CurateError(f"{what}: {data.shape[0]} frames of keypoints, the video needs {num_frames} ({path}).")
    return torch.from_numpy(np.ascontiguousarray(data[:num_frames], dtype=np.float32))
