"""PSNR and SSIM of curate eval against scikit-image (and torchmetrics) on the same frames: docs/eval.md."""
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure as tm

from curation.evaluate.decode import Decoded
from curation.evaluate.fullref import psnr_ssim

rng = np.random.default_rng(0)
for h, w in [(64, 64), (360, 640), (512, 512)]:
    a = (gaussian_filter(rng.random((4, h, w, 3)), (0, 2, 2, 0)) * 255 * 4 - 300).clip(0, 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    A, B = Decoded(Path("a"), a, 25.0, None), Decoded(Path("b"), b, 25.0, None)
    ours = psnr_ssim(B, A)
    sk_s = np.mean([structural_similarity(y, x, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1) for x, y in zip(a, b)])
    sk_p = np.mean([peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(a, b)])
    t = float(tm(torch.from_numpy(b).permute(0,3,1,2).float()/255, torch.from_numpy(a).permute(0,3,1,2).float()/255, data_range=1.0))
    print(f"{h}x{w}: ssim ours-skimage {ours['ssim']-sk_s:+.2e}  torchmetrics-skimage {t-sk_s:+.2e}  psnr ours-skimage {ours['psnr']-sk_p:+.2e} dB  (ssim {sk_s:.4f})")
