"""FID and FVD: features from the user's TorchScript networks, Fréchet distance from torchmetrics.

FID: every frame (uint8 RGB, N x 3 x H x W) through ``inception-2015-12-05.pt`` called as
``net(x, return_features=True)`` (the network resizes to 299 itself): 2048-d pool features;
per clip the same number of frames (the shorter video's) from the candidate and the ground truth.
FVD (StyleGAN-V protocol by default, ``eval.fvd_clips = "first"``): one 16-frame clip per video
from its first frame (``"all"``: every non-overlapping 16-frame window), centre-cropped to a
square (never squashed), resized to 224 x 224 and scaled to [-1, 1] (N x 3 x 16 x 224 x 224),
through ``i3d_torchscript.pt`` called as ``net(x, rescale=False, resize=False,
return_features=True)``: 400-d logits before the softmax. Both compare all generated samples
of a method with all ground-truth samples of the same clips; torchmetrics'
``FrechetInceptionDistance`` (given an identity "network") does the mean/covariance maths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation.evaluate.decode import resize_frames
from storage.errors import CurateError

FVD_FRAMES = 16
FVD_SIZE = 224
BATCH = 16


def load_torchscript(path: Path, setting: str):
    import warnings

    import torch

    try:
        with (
            warnings.catch_warnings()
        ):  # the standard FID/FVD files are TorchScript; torch now calls it deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as e:
        raise CurateError(
            f"eval.{setting} = {str(path)!r}: not a TorchScript file: {str(e).splitlines()[0][:200]}"
        ) from None


class InceptionFeatures:
    def __init__(self, path: Path, device: str = "cpu"):
        self.net = load_torchscript(path, "inception").to(device)
        self.device = device

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for s in range(0, len(frames), BATCH):
                x = torch.from_numpy(np.ascontiguousarray(frames[s : s + BATCH])).permute(0, 3, 1, 2)
                out.append(self.net(x.to(self.device), return_features=True).double().cpu().numpy())
        return np.concatenate(out)

    @staticmethod
    def take(features: np.ndarray, n: int) -> np.ndarray:
        """The features of the first ``n`` frames (one row per frame)."""
        return features[:n]


def center_square(frames: np.ndarray) -> np.ndarray:
    """The centred square of (T, H, W, 3) frames (side min(H, W)), as StyleGAN-V crops before resizing."""
    h, w = frames.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frames[:, top : top + side, left : left + side]


class I3DFeatures:
    def __init__(self, path: Path, device: str = "cpu", clips: str = "first"):
        self.net = load_torchscript(path, "i3d").to(device)
        self.device = device
        self.clips = clips  # "first": one clip per video (StyleGAN-V); "all": every window

    def starts(self, n: int) -> range:
        """First frames of the 16-frame clips taken from ``n`` frames."""
        last = n - FVD_FRAMES + 1
        return range(min(last, 1)) if self.clips == "first" else range(0, last, FVD_FRAMES)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(clips, d) features; empty when the video has fewer than 16 frames."""
        import torch

        out = []
        with torch.no_grad():
            for s in self.starts(len(frames)):
                square = center_square(frames[s : s + FVD_FRAMES])
                clip = resize_frames(square, FVD_SIZE, FVD_SIZE) * 2 - 1  # (16, 3, 224, 224)
                x = clip.permute(1, 0, 2, 3)[None].to(self.device)
                out.append(
                    self.net(x, rescale=False, resize=False, return_features=True).double().cpu().numpy()
                )
        return np.concatenate(out) if out else np.zeros((0, 0))

    def take(self, features: np.ndarray, n: int) -> np.ndarray:
        """The clips that lie within the first ``n`` frames."""
        return features[: len(self.starts(n))]


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance of two feature sets (rows = samples), computed by torchmetrics."""
    import torch
    from torch import nn
    from torchmetrics.image.fid import FrechetInceptionDistance

    class _Given(nn.Module):  # the features are already computed: pass them through
        def __init__(self, d: int):
            super().__init__()
            self.num_features = d

        def forward(self, x):
            return x

    if len(real) < 2 or len(fake) < 2:
        raise ValueError(
            f"need at least 2 samples on each side (got {len(real)} real, {len(fake)} generated)"
        )
    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]))
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    return float(metric.compute())
