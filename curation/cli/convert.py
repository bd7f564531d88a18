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
def hallo4_cmd(ckpt, out, window):
    """Hallo4's audio projection and per-block audio cross-attention, and when the checkpoint has them its pose
    projection (pose_proj) and per-block skeleton attention (condition_cross_attn), CKPT (.safetensors or .ckpt) ->
    OUT/final/motion, a run folder that `curate train-dpo --init OUT` starts from. The skeleton branch becomes
    skeleton_projection/skeleton_fusion 'hallo4' and takes VAE-encoded skeleton frames (B, T, 16, h, w), not
    keypoints. The base VACE-Wan weights in the file are not converted: the transformer comes from --transformer.
    Prints what was mapped and what was left."""
    from trainer.motion.hallo4 import convert_hallo4

    target, summary = convert_hallo4(ckpt, out, window)
    click.echo(f"Wrote {target}: {summary}.")
