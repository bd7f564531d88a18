"""Full-reference metrics against the clip's ground-truth video: PSNR, SSIM (torchmetrics), LPIPS.

Frame i of the candidate is compared with frame i of the ground truth over the
shorter of the two; the candidate is resized (bilinear, antialiased) to the ground
truth's size. Values are per frame, then averaged over the clip. PSNR and SSIM use
RGB in [0, 1] (``data_range=1``); SSIM has torchmetrics' defaults (Gaussian window
11, sigma 1.5, K1 0.01, K2 0.03), averaged over the three channels, in float32.
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


def check_comparable(cand: Decoded, ref: Decoded) -> str | None:
    """None when frame i of one can be compared with frame i of the other, else why not."""
    if abs(cand.fps - ref.fps) > 0.01:
        return f"fps differ (candidate {cand.fps:g}, ground truth {ref.fps:g}); normalise both to one rate"
    return None


def psnr_ssim(cand: Decoded, ref: Decoded, device: str = "cpu") -> dict[str, float]:
    """Mean per-frame PSNR (dB) and SSIM of ``cand`` against ``ref``."""
    import torch
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    psnr, ssim = [], []
    with torch.no_grad():
        for c, r in _aligned(cand, ref):
            # float32: SSIM's variances (E[x^2] - E[x]^2) lose up to ~1e-4 to cancellation (flat frames),
            # but float64 convolutions run about 10x slower on CPU (docs/eval.md)
            c, r = c.to(device), r.to(device)
            psnr.append(peak_signal_noise_ratio(c, r, data_range=1.0, reduction="none", dim=(1, 2, 3)))
            ssim.append(structural_similarity_index_measure(c, r, data_range=1.0, reduction="none"))
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
