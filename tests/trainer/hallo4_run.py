"""Shared by the Hallo4 run tests: the parity fixture's checkpoint converted whole, a tiny Wan VAE with 4 latent
channels (the fixture model's in_dim), and a pair manifest with a rendered skeleton video per clip."""

from __future__ import annotations

from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hallo4_parity"
FRAMES, HEIGHT, WIDTH, FPS = 9, 32, 48, 25  # 3 latent frames on the fixture's 4 x 6 latent grid


def converted_run(root: Path) -> Path:
    from trainer.motion.hallo4 import convert_hallo4

    out = root / "h4"
    convert_hallo4(FIX / "hallo4_tiny.safetensors", out, config=FIX / "config.json")
    return out


def tiny_vae4(folder: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    AutoencoderKLWan(base_dim=3, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                     temperal_downsample=[False, True, True], latents_mean=[0.1, -0.2, 0.0, 0.3],
                     latents_std=[1.5, 0.5, 1.0, 2.0]).save_pretrained(folder)
    return folder


def skeleton_manifest(folder: Path, n_pairs: int = 2) -> Path:
    """``make_pair_manifest``'s pairs at 25 fps, each clip with a rendered skeleton video as long as its wav
    (0.6 s; 96 x 64: decord misreads 48-wide H.264)."""
    import pandas as pd

    from tests.fixtures.media import make_video
    from tests.fixtures.trainer_data_media import make_pair_manifest, write_manifest

    path = make_pair_manifest(folder, n_pairs=n_pairs, size=(2 * WIDTH, 2 * HEIGHT), fps=FPS)
    rows = pd.read_parquet(path).to_dict("records")
    for row in rows:
        make_video(folder / "media" / f"{row['clip_id']}_pose.mp4", seconds=0.6, fps=FPS,
                   size=(2 * WIDTH, 2 * HEIGHT), audio=False, seed=7)
        row["skeleton"] = f"media/{row['clip_id']}_pose.mp4"
    return write_manifest(path, rows)


def hallo4_cfg(run: Path, root: Path, **overrides):
    from trainer.dpo_config import load_config

    return load_config(config_file="hallo4_lora", overrides={
        "init_from": str(run), "denoiser_path": str(run / "final" / "denoiser"),
        "vae_path": str(tiny_vae4(root / "vae4")), "audio_encoder_path": str(FIX / "wav2vec2"),
        "num_frames": FRAMES, "height": HEIGHT, "width": WIDTH, "fps": float(FPS), "text_length": 8,
        "mixed_precision": "no", "gradient_checkpointing": False, "batch_size": 2, "max_steps": 1,
        "warmup_steps": 1, "log_every": 1, "checkpoint_every": 0, "output_dir": str(root / "dpo"),
        "cache_dir": str(root / "cache"), **overrides})
