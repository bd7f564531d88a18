"""Full-reference metrics against the clip's ground-truth video: PSNR, SSIM (Wang et al.), LPIPS.

Frame i of the candidate is compared with frame i of the ground truth over the
shorter of the two; the candidate is resized (bilinear, antialiased) to the ground
truth's size. Values are per frame, then averaged over the clip. PSNR and SSIM use
RGB in [0, 1] (``data_range=1``), float64. SSIM is the standard one (scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``,
common_metrics' ``calculate_ssim``): Gaussian 11 x 11, sigma 1.5, K1 0.01, K2 0.03, the map
averaged without its 5-pixel border, per channel, channels averaged.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from curation.evaluate.decode import Decoded, resize_frames

CHUNK = 16  # frames per forward pass: bounds memory on long clips


def _aligned(cand: Decoded, ref: Decoded):
    """Frames 0..n-1 of both videos, as float tensors at the ground truth's size."""
    n = min(len(cand.frames), len(ref.frames))
    h, w = ref.frames.shape[1:3]
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        yield resize_frames(cand.frames[start:stop], h, w), resize_frames(ref.frames[start:stop], h, w)


def match_rate(cand: Decoded, ref: Decoded) -> tuple[Decoded, str | None]:
    """The candidate at the ground truth's frame rate, and a note when it had another one.

    Frame i of the result is the candidate's frame on screen at i / ref.fps (nearest frame): a run samples at its
    training rate (16 fps for Wan) while references are usually 25 fps, and frame-by-frame metrics need one rate.
    """
    if abs(cand.fps - ref.fps) <= 0.01 or cand.fps <= 0 or ref.fps <= 0 or not len(cand.frames):
        return cand, None
    import numpy as np

    n = max(1, round(len(cand.frames) * ref.fps / cand.fps))
    idx = np.minimum(np.round(np.arange(n) * cand.fps / ref.fps).astype(int), len(cand.frames) - 1)
    note = f"candidate resampled from {cand.fps:g} to {ref.fps:g} fps (nearest frame) for the ground-truth metrics"
    return Decoded(path=cand.path, frames=cand.frames[idx], fps=ref.fps, audio=cand.audio), note


def check_comparable(cand: Decoded, ref: Decoded) -> str | None:
    """None when frame i of one can be compared with frame i of the other, else why not."""
    if abs(cand.fps - ref.fps) > 0.01:
        return f"fps differ (candidate {cand.fps:g}, ground truth {ref.fps:g}); normalise both to one rate"
    return None


SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 x 11 window: scikit-image's truncate 3.5 x sigma 1.5, rounded
K1, K2 = 0.01, 0.03


def _gaussian_valid(x, taps):
    """Separable Gaussian filter of (N, C, H, W), only where the whole window fits (the map's interior)."""
    import torch.nn.functional as F

    c = x.shape[1]
    x = F.conv2d(x, taps.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, taps.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ssim_frames(c, r):
    """Per-frame SSIM of (N, 3, H, W) tensors in [0, 1]: the standard definition, channels averaged.

    Filtering only the interior gives exactly the map scikit-image averages after cropping its
    5-pixel border, so no padding convention enters the number (torchmetrics averages a
    reflect-padded border too: 5e-3 off on small frames).
    """
    import torch

    t = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64, device=c.device)
    taps = torch.exp(-(t**2) / (2 * SSIM_SIGMA**2))
    taps = taps / taps.sum()
    c, r = c.double(), r.double()
    mu_c, mu_r = _gaussian_valid(c, taps), _gaussian_valid(r, taps)
    var_c = _gaussian_valid(c * c, taps) - mu_c**2
    var_r = _gaussian_valid(r * r, taps) - mu_r**2
    cov = _gaussian_valid(c * r, taps) - mu_c * mu_r
    c1, c2 = K1**2, K2**2  # data range 1
    s = ((2 * mu_c * mu_r + c1) * (2 * cov + c2)) / ((mu_c**2 + mu_r**2 + c1) * (var_c + var_r + c2))
    return s.mean(dim=(1, 2, 3))


def psnr_frames(c, r):
    """Per-frame PSNR (dB) of [0, 1] tensors over all pixels and channels; inf for identical frames."""
    mse = ((c.double() - r.double()) ** 2).mean(dim=(1, 2, 3))
    return -10 * mse.log10()


def psnr_ssim(cand: Decoded, ref: Decoded, device: str = "cpu") -> dict[str, float]:
    """Mean per-frame PSNR (dB) and SSIM of ``cand`` against ``ref``.

    Raises:
        ValueError: frames smaller than SSIM's 11 x 11 window.
    """
    import torch

    h, w = ref.frames.shape[1:3]
    if min(h, w) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"frames of {w} x {h} are smaller than SSIM's 11 x 11 window")
    psnr, ssim = [], []
    with torch.no_grad():
        for c, r in _aligned(cand, ref):
            c, r = c.to(device), r.to(device)
            psnr.append(psnr_frames(c, r).cpu())
            ssim.append(ssim_frames(c, r).cpu())
    return {"psnr": float(torch.cat(psnr).mean()), "ssim": float(torch.cat(ssim).mean())}


def alexnet_features():
    """torchvision's AlexNet ``features`` layout, so its state dict loads without torchvision."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def load_alexnet_features(path: Path):
    """The ``features`` part of a torchvision AlexNet state dict (alexnet-owt-7be5be79.pth)."""
    import torch

    from storage.errors import CurateError

    state = torch.load(path, map_location="cpu", weights_only=True)
    feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    net = alexnet_features()
    try:
        net.load_state_dict(feats, strict=True)
    except RuntimeError as e:
        raise CurateError(
            f"eval.lpips_backbone = {str(path)!r}: not a torchvision AlexNet state dict: "
            f"{str(e).splitlines()[0]}"
        ) from None
    return net


@contextmanager
def _backbone(features):
    # torchmetrics builds LPIPS' backbone from torchvision, which does not install beside our torch;
    # handing it the same network, loaded from the user's file, keeps LPIPS itself (scaling, per-layer
    # normalisation, the shipped linear heads, spatial mean) torchmetrics' code.
    from unittest import mock

    import torchmetrics.functional.image.lpips as tm_lpips

    with mock.patch.object(tm_lpips, "_get_tv_model_features", lambda net, pretrained=False: features):
        yield tm_lpips


class Lpips:
    """LPIPS (AlexNet, torchmetrics' shipped linear heads) with the backbone from ``eval.lpips_backbone``."""

    def __init__(self, backbone_path: Path, device: str = "cpu"):
        features = load_alexnet_features(backbone_path)
        with _backbone(features) as tm_lpips:
            self.net = tm_lpips._NoTrainLpips(net="alex").to(device)
        self.device = device

    def __call__(self, cand: Decoded, ref: Decoded) -> float:
        import torch

        vals = []
        with torch.no_grad():
            for c, r in _aligned(cand, ref):
                vals.append(self.net(c.to(self.device), r.to(self.device), normalize=True).reshape(-1).cpu())
        return float(torch.cat(vals).mean())
