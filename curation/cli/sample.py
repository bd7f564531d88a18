"""``curate sample``: videos from a trained run, one per clip (flags in, one library call, a summary out)."""

from __future__ import annotations

import click

from curation.cli._util import location_options, no_progress_option


@click.command("sample")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder (what train-dpo / train-sft --output wrote).")
@click.option("--step", type=click.IntRange(min=1), help="A saved checkpoint's step (default: the run's final/).")
@click.option("--clips", "clips_file", type=click.Path(dir_okay=False),
              help="Clip manifest (CSV/JSONL/Parquet: clip_id, image, audio[, prompt]).")
@click.option("--all", "all_clips", is_flag=True, help="Every clip of the workspace (-w, $CURATE_WORKSPACE or .).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for <clip_id>.mp4 + .json.")
@click.option("--steps", default=30, show_default=True, help="Solver steps.")
@click.option("--scheduler", default="auto", show_default=True,
              help="auto (unipc_wan for a converted Hallo4 run, unipc for Wan, ddim for UNet runs), unipc, "
                   "unipc_wan (Wan2.1's own sigma grid), euler or ddim.")
@click.option("--guidance-text", default=5.0, show_default=True, help="CFG scale on the prompt (1 = off).")
@click.option("--guidance-audio", default=3.5, show_default=True, help="CFG scale on the audio (1 = off).")
@click.option("--overlap", default=1, show_default=True, help="Latent frames carried from one window to the next.")
@click.option("--seed", default=42, show_default=True, help="Seed of the noise (window i: seed + i).")
@click.option("--shift", default=0.0, show_default=True,
              help="Flow-matching shift of the sampling schedule (0 = the run's; Hallo4's sampler: 8).")
@click.option("--gpus", help="Comma-separated GPU ids: one sampling process per GPU, clips dealt round-robin.")
@location_options("Workspace for --all (default: $CURATE_WORKSPACE, else the current folder).")
@no_progress_option
def sample_cmd(run_dir, step, clips_file, all_clips, out, steps, scheduler, guidance_text, guidance_audio, overlap,
               seed, shift, gpus, workspace, db, no_progress) -> None:
    """Generate a video per clip from a trained run (base + SFT motion module + DPO LoRA, as saved).

    \b
    Flow-matching runs (Wan) sample with the run's shift on UniPC (or Euler);
    UNet runs with DDIM. Classifier-free guidance on the prompt and on the
    audio (zero audio as the unconditional input). Audio longer than the run's
    num_frames is generated in overlapping windows: the last --overlap latent
    frames of a window condition the next. The clip's audio is muxed in; the
    run, step, settings and seeds go into <clip_id>.json and the mp4's comment.

    \b
    A converted Hallo4 run (curate convert hallo4) needs a rendered skeleton
    video per clip (the manifest's skeleton column); upstream's own sampler
    settings are --steps 25 --shift 8 --guidance-text 6 --guidance-audio 6.

    \b
    Resumable: clips that already have <out>/<clip_id>.mp4 are skipped.

    \b
    Examples:
      curate sample --run runs/dpo1 --clips clips.csv --out samples/dpo1
      curate sample --run runs/dpo1 --step 500 --all --out samples/dpo1-500 --steps 50
      curate sample --run runs/dpo1 --all --out samples/dpo1 --gpus 0,1,2,3
    """
    if bool(clips_file) == bool(all_clips):
        raise click.UsageError("give exactly one of --clips FILE or --all.")
    settings = {"steps": steps, "scheduler": scheduler, "guidance_text": guidance_text,
                "guidance_audio": guidance_audio, "overlap": overlap, "seed": seed, "shift": shift}
    from trainer.generation.settings import SampleConfig

    SampleConfig(**settings)  # bad settings fail before anything loads
    from curation.run_videos import clips_from_manifest, clips_from_store, sample_clips

    if all_clips:
        from storage.workspace import load

        ws = load(workspace, db=db)
        clips = clips_from_store(ws)
    else:
        clips = clips_from_manifest(clips_file)
    gpu_ids = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
    report = sample_clips(run_dir, clips, out, settings, step=step, progress=not no_progress, gpus=gpu_ids)
    click.echo(f"Sampled {report.written} clip(s), skipped {report.skipped} already in {report.out}.")
