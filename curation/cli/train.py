"""``curate train-dpo`` and ``curate train-sft``: flags and help; the work is ``trainer.run.run``. torch loads only
when they run."""

from __future__ import annotations

from pathlib import Path

import click

from storage.errors import CurateError

HELP = """Diffusion-DPO fine-tuning (Hallo4 sec. 3.2, eq. 5) on a pair manifest from `curate build-pairs`.

\b
Steps: 1. validate the manifest (columns pair_id, clip_id, winner_video,
          loser_video; optional image, audio, prompt): every file must exist,
          decode and lie inside the workspace / --media-root folders;
       2. encode every video once with the VAE into the latent cache
          (reused across runs, safe to interrupt); --prepare-only stops here;
       3. train, writing OUTPUT/checkpoints/step-N (safetensors, resumable
          with --resume), OUTPUT/logs (TensorBoard + metrics.jsonl) and
          OUTPUT/final (lora/ for a LoRA, denoiser/ for a full fine-tune).

\b
Wan2.1 (flow matching), a LoRA, the shipped wan_lora config:
  curate train-dpo --manifest manifests/pairs-v0001.parquet --model-kind wan \\
    --transformer Wan2.1-T2V-1.3B-Diffusers/transformer \\
    --vae Wan2.1-T2V-1.3B-Diffusers/vae --config wan_lora --output runs/wan-dpo
SD1.5-style UNet (epsilon), a config file plus overrides:
  curate train-dpo --manifest pairs.parquet --model-kind unet --unet sd15/unet \\
    --vae sd15/vae --config unet_sd15 --set lora_rank=8 --set reference=lora \\
    --output runs/unet-dpo
The paper's run: --config paper (full fine-tune, lr 1e-8, beta 2500, batch 8).
Audio-driven (sec. 3.3): --audio-encoder wav2vec2 folder; after `curate
train-sft --phase audio`, --init SFT_RUN starts policy and reference there.
Several GPUs: accelerate launch --num_processes 8 $(which curate) train-dpo ...

\b
Beta convention: NO 0.5 factor, loss = -log sigmoid(-beta * w_t * (...)).
The paper's beta 2500 equals beta 5000 in the original Diffusion-DPO code.
Config precedence: defaults < --preset < --config YAML < --set key=value <
flags. Unknown keys are an error. Keys: see docs/trainer.md or
`--help-config`.
"""


def _shared_options(f):
    """The flags train-dpo and train-sft share (applied bottom-up, so they list in this order)."""
    options = [
        click.option("--model-kind", type=click.Choice(["wan", "unet"]), help="Denoiser family (config key model_kind)."),
        click.option("--transformer", "--unet", "denoiser", help="Local diffusers folder of the denoiser."),
        click.option("--vae", help="Local diffusers folder of the VAE (AutoencoderKLWan / AutoencoderKL)."),
        click.option("--audio-encoder", help="Local wav2vec2 folder: audio features reach the model (sec. 3.3)."),
        click.option("--image-encoder", help="Local CLIPVisionModel folder: reference-image embeddings (Wan I2V)."),
        click.option("--config", "config_file", help="YAML run config: a path, or a shipped name (paper, sft, "
                     "sft_audio, wan_lora, unet_sd15, tiny)."),
        click.option("--preset", type=click.Choice(["paper", "tiny"]), help="Preset under the YAML: paper or tiny."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key "
                     "(repeatable)."),
        click.option("--max-steps", type=int, help="Optimizer steps (config key max_steps)."),
        click.option("--output", "-o", "output", help="Run folder (config key output_dir)."),
        click.option("--cache-dir", help="Latent cache folder (default: <manifest folder>/latent-cache)."),
        click.option("--media-root", "media_roots", multiple=True, help="Extra folder media paths may point into."),
        click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in the run folder."),
        click.option("--prepare-only", is_flag=True, help="Validate and fill the latent cache, then stop."),
        click.option("--no-progress", is_flag=True, help="No progress bars (logs still go to the console)."),
        click.option("--dry-run", is_flag=True, help="Check the folders and the manifest, print the memory estimate "
                     "(what fits on this machine), then stop: nothing is loaded or cached."),
        click.option("--ignore-memory", is_flag=True, help="Start even when the memory estimate says the run "
                     "cannot fit."),
        click.option("--help-config", is_flag=True, help="List every config key with its default and stop."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("train-dpo", help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--manifest", type=click.Path(dir_okay=False), help="Pair manifest (parquet, csv or jsonl).")
@click.option("--mode", type=click.Choice(["dpo", "sft", "plain"]), help="dpo, sft (winners only) or plain.")
@click.option("--init", "init_from", type=click.Path(file_okay=False), help="A finished run folder (e.g. a "
              "train-sft run): policy AND reference start from its final/ model (paper: pi_ref = the SFT model).")
@_shared_options
def train_dpo_cmd(manifest, mode, init_from, **opts):
    _train(manifest, "pairs", command="train-dpo", mode=mode, init_from=init_from, **opts)


SFT_HELP = """Phased supervised fine-tuning of the motion module (Hallo4 sec. 3.5), flow matching.

\b
--phase audio: only the audio projection and the motion cross-attention
               train (denoiser and VAE frozen); needs --audio-encoder.
--phase skeleton: only the skeleton branch trains (the manifest's
               skeleton column: NumPy keypoints (T, J, 3) per clip,
               or a rendered skeleton video).
Data: --videos, a plain video manifest (clip_id, video; image, audio,
skeleton, prompt), e.g. the real clips; or --manifest, a pair manifest
whose winners are the training videos. Same loop, checkpoints, --resume
and metrics as train-dpo; the run folder's final/motion holds the module.

\b
  curate train-sft --phase audio --videos clips.parquet --model-kind wan \\
    --transformer Wan2.1-T2V-1.3B-Diffusers/transformer \\
    --vae Wan2.1-T2V-1.3B-Diffusers/vae --audio-encoder wav2vec2-base \\
    --config sft_audio --output runs/sft-audio
  curate train-dpo --init runs/sft-audio --manifest pairs.parquet ... (same
    --transformer / --vae / --audio-encoder) --output runs/dpo
"""


@click.command("train-sft", help=SFT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--phase", type=click.Choice(["audio", "skeleton"]), help="Which motion branch trains.")
@click.option("--videos", type=click.Path(dir_okay=False), help="Video manifest (clip_id, video, ...).")
@click.option("--manifest", type=click.Path(dir_okay=False), help="Pair manifest: train on its winners.")
@click.option("--init", "init_from", type=click.Path(file_okay=False), help="Start from a finished run (e.g. the "
              "audio phase before the skeleton phase).")
@_shared_options
def train_sft_cmd(phase, videos, manifest, init_from, **opts):
    if not opts["help_config"] and bool(videos) == bool(manifest):
        raise click.UsageError("Give exactly one of --videos (a video manifest) or --manifest (a pair manifest).")
    _train(videos or manifest, "videos" if videos else "pairs", command="train-sft", mode="sft", phase=phase,
           init_from=init_from, **opts)


def _train(manifest, kind, *, command, dry_run, ignore_memory, model_kind, denoiser, vae, audio_encoder, image_encoder, config_file, preset, overrides, max_steps,
           output, cache_dir, media_roots, resume, prepare_only, no_progress, help_config, **flags):
    if help_config:
        click.echo(_config_help())
        return
    if not manifest:
        raise click.UsageError("--manifest is required.")
    cfg = _build_config(config_file, preset, overrides, model_kind=model_kind, denoiser_path=denoiser,
                        vae_path=vae, audio_encoder_path=audio_encoder, image_encoder_path=image_encoder, max_steps=max_steps, output_dir=output,
                        cache_dir=cache_dir, **flags)
    if not cfg.denoiser_path or not cfg.vae_path:
        raise click.UsageError("--transformer/--unet and --vae are required (or denoiser_path/vae_path in --config).")
    if cfg.phase == "audio" and not cfg.audio_encoder_path:
        raise click.UsageError("--phase audio trains the audio branch on wav2vec2 features: pass --audio-encoder "
                               "(a local wav2vec2 folder).")
    from trainer.run import check_folders, run

    try:
        check_folders(cfg)  # every model folder, before the manifest is read or anything is loaded
        message = run(cfg, Path(manifest), media_roots or None, resume=resume, prepare_only=prepare_only,
                      progress=not no_progress, manifest_kind=kind, command=command,
                      say=lambda line: click.echo(line, err=True), dry_run=dry_run, memory_check=not ignore_memory)
    except (ValueError, FileNotFoundError) as e:
        raise CurateError(str(e)) from None
    if message:
        click.echo(message)


def _build_config(config_file, preset, overrides, **flags):
    from trainer.dpo_config import load_config, parse_overrides

    values = parse_overrides(overrides)  # a bad key or value: ValueError, a usage error at the CLI group
    values.update({k: v for k, v in flags.items() if v is not None})
    return load_config(preset=preset, config_file=config_file, overrides=values)


def _config_help() -> str:
    from trainer.dpo_config import DiffusionDPOConfig, field_help

    defaults = DiffusionDPOConfig().to_dict()
    return "\n".join(f"{k:28} {defaults[k]!r:>14}  {h}" for k, h in field_help().items())
