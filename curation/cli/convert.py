"""``curate convert``: released weights onto the trainer's modules; the work is in ``trainer.motion.hallo4``."""

from __future__ import annotations

import click


@click.group("convert", context_settings={"help_option_names": ["-h", "--help"]})
def convert_group():
    """Map released model weights onto the trainer's modules."""


@convert_group.command("hallo4")
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--window", type=int, default=5, show_default=True,
              help="Audio frames per window the checkpoint's projection takes (2w + 1).")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Upstream's model config.json (num_heads, vace_layers); without it: 128-wide heads and VACE on "
                   "every second block (Wan2.1-VACE-1.3B).")
@click.option("--vae", default="", help="Local Wan VAE folder, recorded in the run's config.json (vae_path).")
@click.option("--text-encoder", default="", help="Local UMT5 folder, recorded as text_encoder_path.")
@click.option("--audio-encoder", default="", help="Local wav2vec2 folder, recorded as audio_encoder_path.")
def hallo4_cmd(ckpt, out, window, config, vae, text_encoder, audio_encoder):
    """Convert Hallo4's released checkpoint CKPT (.safetensors or .ckpt) into the run folder OUT.

    A whole checkpoint (Wan2.1-VACE-1.3B DiT + VACE blocks + Hallo4's modules) becomes a complete run: the DiT and
    VACE blocks as a diffusers WanVACETransformer3DModel in OUT/final/denoiser, the audio projection, per-block audio
    attention, pose projection and skeleton attention as its motion module (reference-frame tokens on), and
    OUT/config.json naming it and the encoder folders given here; `curate sample OUT`, `curate train-sft --init
    OUT` and `curate train-dpo --init OUT` take it. A checkpoint with the motion modules only gives OUT/final/motion
    for a base named by --transformer. The checkpoint is read one tensor at a time in its stored dtype; OUT is
    written in a temporary folder and renamed at the end. Prints what was mapped and what was left."""
    from trainer.motion.hallo4 import convert_hallo4

    paths = {"vae_path": vae, "text_encoder_path": text_encoder, "audio_encoder_path": audio_encoder}
    target, summary = convert_hallo4(ckpt, out, window, config=config, paths=paths)
    click.echo(f"Wrote {target}: {summary}.")
