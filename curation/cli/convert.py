"""``curate convert``: released weights onto the trainer's modules; the work is in ``trainer.convert``."""

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
    """Hallo4's audio projection and per-block audio cross-attention (CKPT: .safetensors or .ckpt) -> OUT/final/
    motion, a run folder that `curate train-dpo --init OUT` starts from."""
    from trainer.convert import convert_hallo4

    target = convert_hallo4(ckpt, out, window)
    click.echo(f"Wrote {target} (audio projection 'mlp' + motion cross-attention).")
