"""``curate eval``: the paper's objective metrics per method (Hallo4, tables 1-3), from local weights only.

One module per metric family: ``fullref`` (PSNR, SSIM, LPIPS against the clip's ground
truth), ``sync`` + ``syncnet`` (Sync-C, Sync-D), ``frechet`` (FID, FVD), ``hands`` (HKC, HKV).
``decode`` reads
each video once for all of them; ``run`` drives a campaign; ``report`` aggregates.
"""

METRICS = ("sync", "fid", "fvd", "psnr", "ssim", "lpips", "hands")
