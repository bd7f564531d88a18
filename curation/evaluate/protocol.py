"""The protocol block: per metric, what computed it, from which preprocessing and which weight files.

Written into summary.json and the Parquet metadata and printed by ``curate eval --protocol``, so a
table can be compared with a paper's convention by convention (docs/eval.md).
"""

from __future__ import annotations

from pathlib import Path


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def ffmpeg_version() -> str:
    """The first line of the bundled ffmpeg's ``-version``: the resampler and downmix depend on it."""
    import subprocess

    import imageio_ffmpeg

    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or ["unknown"])[0]


def _weights(cfg, root: Path, setting: str) -> dict:
    """Path and SHA-256 of a weight file (null where the setting is empty or the file is absent)."""
    from storage.media import sha256_file

    value = getattr(cfg, setting)
    path = (root / value).resolve() if value else None
    ok = path is not None and path.is_file()
    return {"setting": f"eval.{setting}", "path": str(path) if ok else None,
            "sha256": sha256_file(path) if ok else None}


def _detector(cfg) -> str:
    if cfg.face_crop == "full":
        return "none: eval.face_crop = full (each frame is the face crop)"
    if cfg.s3fd:
        return ("S3FD (syncnet_python's detector; eval.s3fd weights below): frame scaled by 0.25, "
                "confidence > 0.9, NMS 0.3 then 0.1, best-scoring face per frame")
    return ("OpenCV haarcascade_frontalface_default (FALLBACK: syncnet_python uses S3FD; "
            f"opencv-python-headless {_version('opencv-python-headless')})")


def _sync(cfg, root: Path) -> dict:
    return {
        "implementation": "curation.evaluate.sync (syncnet_python run_pipeline + SyncNetInstance procedure)",
        "version": {"torch": _version("torch"), "python_speech_features": _version("python_speech_features")},
        "preprocessing": {
            "video": "25 fps (nearest frame), face crop 224 x 224 BGR (crop_scale 0.4, boxes median 13)",
            "audio": f"ffmpeg -ac 1 -ar 16000 -acodec pcm_s16le read as int16 ({ffmpeg_version()})",
            "mfcc": "python_speech_features.mfcc defaults on int16 values; 0.2 s windows, vshift 15",
            "tracks": {"scene_cuts": cfg.sync_scene_cuts, "min_track_frames_exclusive": cfg.sync_min_track,
                       "min_face_side_px_exclusive": cfg.sync_min_face,
                       "standard": cfg.sync_scene_cuts and cfg.sync_min_track == 100 and cfg.sync_min_face == 100},
        },
        "weights": [_weights(cfg, root, "syncnet")]
        + ([_weights(cfg, root, "s3fd")] if cfg.s3fd and cfg.face_crop == "face" else []),
        "detector": _detector(cfg),
    }


def _fullref() -> dict:
    return {
        "psnr": {"implementation": "curation.evaluate.fullref.psnr_frames", "version": {"torch": _version("torch")},
                 "preprocessing": "RGB [0, 1] float64, candidate resized to the ground truth (bilinear, "
                                  "antialiased); per-frame PSNR, mean over frames; identical frames: inf"},
        "ssim": {"implementation": "curation.evaluate.fullref.ssim_frames (Wang et al.; = skimage "
                                   "structural_similarity gaussian_weights, sigma 1.5, use_sample_covariance=False)",
                 "version": {"torch": _version("torch")},
                 "preprocessing": "RGB [0, 1] float64, Gaussian 11 x 11 sigma 1.5, K1 0.01 K2 0.03, 5-px border "
                                  "left out of the mean, channels averaged, mean over frames"},
    }


def build_protocol(cfg, root: Path, metrics: tuple[str, ...]) -> dict:
    """{metric: {implementation, version, preprocessing, weights, detector?}} of the metrics requested."""
    tm = {"torchmetrics": _version("torchmetrics"), "torch": _version("torch")}
    fvd_clips = ("one 16-frame clip per video from frame 0 (StyleGAN-V)" if cfg.fvd_clips == "first"
                 else "every non-overlapping 16-frame window")
    block = {
        "sync": _sync(cfg, root),
        **_fullref(),
        "lpips": {"implementation": "torchmetrics LPIPS (alex, shipped linear heads)", "version": tm,
                  "preprocessing": "RGB [0, 1], normalize=True, candidate resized to the ground truth",
                  "weights": [_weights(cfg, root, "lpips_backbone")]},
        "fid": {"implementation": "torchmetrics FrechetInceptionDistance on given features", "version": tm,
                "preprocessing": "uint8 RGB frames, the network resizes to 299; per clip the first n frames of "
                                 "both videos, n = the shorter's length",
                "weights": [_weights(cfg, root, "inception")]},
        "fvd": {"implementation": "torchmetrics FrechetInceptionDistance on I3D features", "version": tm,
                "preprocessing": f"eval.fvd_clips = {cfg.fvd_clips}: {fvd_clips}; centre square crop, resize "
                                 "to 224 x 224 (bilinear, antialiased), values in [-1, 1]",
                "weights": [_weights(cfg, root, "i3d")]},
        "hands": {"implementation": "curation.evaluate.hands (DWPose whole-body through onnxruntime)",
                  "version": {"onnxruntime": _version("onnxruntime")},
                  "preprocessing": "whole frame as the person box, 288 x 384; HKV in pixels^2 of the source "
                                   "frame (grows with resolution)",
                  "weights": [_weights(cfg, root, "dwpose")]},
    }
    return {m: block[m] for m in metrics if m in block}
