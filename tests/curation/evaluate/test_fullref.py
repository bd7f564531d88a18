"""PSNR, SSIM and LPIPS on small videos: hand-worked values, scikit-image as the independent reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from curation.evaluate.decode import Decoded, decode
from curation.evaluate.fullref import Lpips, alexnet_features, check_comparable, psnr_ssim
from tests.fixtures.media import make_video


def _video(values, size=(16, 16), fps=25.0) -> Decoded:
    frames = np.stack([np.full((*size, 3), v, np.uint8) for v in values])
    return Decoded(path=Path("mem.mp4"), frames=frames, fps=fps, audio=None)


def test_psnr_ssim_of_flat_frames_match_hand_worked_values():
    # MSE = (10/255)^2, so PSNR = 20 log10(255/10) = 20 * 1.406540 = 28.1308 dB.
    # Flat frames have zero variance: SSIM = (2xy + C1) / (x^2 + y^2 + C1), x = 100/255, y = 110/255,
    # C1 = 0.01^2: (0.338331 + 0.0001) / (0.339869 + 0.0001) = 0.995476 (float64: no cancellation residue).
    got = psnr_ssim(_video([110, 110]), _video([100, 100]))
    assert got["psnr"] == pytest.approx(28.1308, abs=1e-3)
    assert got["ssim"] == pytest.approx(0.995476, abs=1e-6)


def test_psnr_is_the_mean_over_frames_of_the_shorter_video():
    # frame 0 differs by 10 (28.1308 dB), frame 1 by 20 (20 log10(12.75) = 22.1102 dB); the third
    # reference frame has no candidate frame and is ignored: mean 25.1205 dB.
    got = psnr_ssim(_video([110, 120]), _video([100, 100, 0]))
    assert got["psnr"] == pytest.approx((28.1308 + 22.1102) / 2, abs=1e-3)


def test_psnr_on_real_mp4_matches_numpy_textbook_formula(tmp_path):
    a = decode(make_video(tmp_path / "a.mp4", seconds=0.4, size=(32, 32), seed=1), "a")
    b = decode(make_video(tmp_path / "b.mp4", seconds=0.4, size=(32, 32), seed=2), "b")
    per_frame = [
        10 * math.log10(1 / np.mean((x.astype(np.float64) / 255 - y.astype(np.float64) / 255) ** 2))
        for x, y in zip(a.frames, b.frames)
    ]
    got = psnr_ssim(a, b)
    assert got["psnr"] == pytest.approx(np.mean(per_frame), abs=1e-3)
    same = psnr_ssim(a, a)
    assert same["ssim"] == pytest.approx(1.0, abs=1e-6) and same["psnr"] == math.inf
    assert abs(got["ssim"]) < 0.1  # two unrelated noise videos: no structure in common


def test_frames_of_other_rates_are_not_compared():
    assert "fps differ (candidate 30, ground truth 25)" in check_comparable(_video([1], fps=30), _video([1]))
    assert check_comparable(_video([1]), _video([1])) is None


def _alexnet_file(path: Path, seed: int = 0) -> Path:
    """A random AlexNet saved like torchvision's alexnet-owt file (features.* + classifier.*)."""
    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in alexnet_features().state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(4096, 9216)[:1]  # present in the real file, unused by LPIPS
    torch.save(state, path)
    return path


def test_lpips_uses_the_users_backbone_and_torchmetrics_linear_heads(tmp_path):
    import inspect

    import torchmetrics.functional.image.lpips as tm

    lp = Lpips(_alexnet_file(tmp_path / "alex.pth"))
    shipped = torch.load(Path(inspect.getfile(tm)).parent / "lpips_models" / "alex.pth", map_location="cpu")
    assert torch.equal(lp.net.lin0.model[1].weight, shipped["lin0.model.1.weight"])
    torch.manual_seed(0)
    assert torch.equal(lp.net.net.slice1[0].weight, alexnet_features()[0].weight)
    rng = np.random.default_rng(0)
    a = Decoded(Path("a"), rng.integers(0, 255, (3, 64, 64, 3), dtype=np.uint8), 25.0, None)
    b = Decoded(Path("b"), rng.integers(0, 255, (3, 64, 64, 3), dtype=np.uint8), 25.0, None)
    assert lp(a, a) == pytest.approx(0.0, abs=1e-6)
    d = lp(a, b)
    assert d > 0 and lp(b, a) == pytest.approx(d, rel=1e-5)


def test_lpips_refuses_a_file_that_is_not_an_alexnet(tmp_path):
    from storage.errors import CurateError

    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(CurateError, match="not a torchvision AlexNet state dict"):
        Lpips(tmp_path / "bad.pth")


def _skimage_scores(a: Decoded, b: Decoded) -> tuple[float, float]:
    """Mean per-frame PSNR and SSIM by scikit-image with the Wang et al. settings, uint8 frames."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    psnr = [peak_signal_noise_ratio(y, x, data_range=255) for x, y in zip(a.frames, b.frames)]
    ssim = [
        structural_similarity(
            x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        )
        for x, y in zip(a.frames, b.frames)
    ]
    return float(np.mean(psnr)), float(np.mean(ssim))


@pytest.mark.parametrize("size", [(64, 64), (48, 32), (40, 72)])
def test_psnr_ssim_match_scikit_image_on_real_videos(tmp_path, size):
    # Two related videos (the second is the first, blurred and shifted) so SSIM is far from 0 and 1.
    from PIL import Image, ImageFilter

    a = decode(make_video(tmp_path / "a.mp4", seconds=0.32, size=size, seed=3), "a")
    blurred = [np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(1))) for f in a.frames]
    b = Decoded(Path("b"), np.roll(np.stack(blurred), 1, axis=2), a.fps, None)
    got = psnr_ssim(b, a)
    ref_psnr, ref_ssim = _skimage_scores(b, a)
    assert 0.05 < ref_ssim < 0.95
    assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-4)
    assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-4)


def test_ssim_refuses_frames_below_the_window():
    with pytest.raises(ValueError, match="smaller than SSIM's 11 x 11 window"):
        psnr_ssim(_video([1], size=(8, 8)), _video([2], size=(8, 8)))
