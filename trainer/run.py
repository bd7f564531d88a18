"""What ``curate train-dpo`` / ``train-sft`` do: check the folders, validate the manifest, estimate the memory,
fill the latent cache, train."""

from __future__ import annotations

from pathlib import Path


def check_folders(cfg) -> None:
    """Every model folder the run names, from its config.json alone (nothing loaded, nothing downloaded): one line
    naming the folder when one is missing, of the wrong kind or without weights."""
    from trainer.encoders import check_encoder_folder
    from trainer.init_run import require_audio_encoder
    from trainer.models import read_model_config

    require_audio_encoder(cfg)
    read_model_config(cfg.model_kind, cfg.denoiser_path)
    read_model_config(cfg.model_kind, cfg.vae_path, role="VAE")
    for role, path in (("audio", cfg.audio_encoder_path), ("image", cfg.image_encoder_path),
                       ("text", cfg.text_encoder_path)):
        if path:
            check_encoder_folder(path, role)


def run(cfg, manifest: Path, media_roots, *, resume: bool, prepare_only: bool, progress: bool,
        manifest_kind: str = "pairs", command: str = "train-dpo", say=None, dry_run: bool = False,
        memory_check: bool = True) -> str | None:
    """Validate, cache, train; returns the line the command prints (None on processes other than the main one).

    Args:
        manifest_kind: "pairs" (a pair manifest) or "videos" (a plain video manifest, for SFT).
        command: the command's name, for the progress bar.
        say: prints a line of notes (the memory estimate, short videos) on the console; default: the "trainer"
            logger at INFO (library callers such as the demo stay quiet).
        dry_run: stop after the checks and the memory estimate; nothing is loaded or cached.
        memory_check: refuse a configuration whose estimate exceeds the available memory.
    """
    import torch
    from accelerate import PartialState

    from trainer.data import PairDataset, check_video_lengths, collate_pairs, validate_manifest
    from trainer.models import check_latents

    if say is None:
        import logging

        say = logging.getLogger("trainer").info
    df = validate_manifest(manifest, roots=media_roots, kind=manifest_kind)
    short = check_video_lengths(df, cfg.num_frames, cfg.fps, cfg.short_videos)
    if short:
        say(short)
    fits = _memory(cfg, say, dry_run, memory_check and not prepare_only)
    if dry_run:
        return f"Dry run: {len(df)} rows checked; the estimate {'fits' if fits else 'does not fit'}. Nothing loaded."
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else manifest.resolve().parent / "latent-cache"
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.is_main_process:
        _prepare(cfg, df, cache_dir, state.device, progress)
    state.wait_for_everyone()
    dataset = PairDataset(df, cache_dir)
    first = dataset[0]
    check_latents(cfg.model_kind, cfg.denoiser_path, first["latents_w"],
                  first["cond"]["encoder_hidden_states"].shape[-1], cfg.reference_image)
    if prepare_only:
        what = "pairs" if manifest_kind == "pairs" else "videos"
        return f"Cache ready: {len(dataset)} {what} in {cache_dir} (latents {tuple(first['latents_w'].shape)})."
    from trainer.dpo_trainer import train

    result = train(cfg.__class__(**{**cfg.to_dict(), "cache_dir": str(cache_dir)}), dataset, collate_pairs,
                   resume=resume, progress=progress, label=command)
    if not state.is_main_process:
        return None
    where = result.final_dir or (Path(cfg.output_dir) / "checkpoints")
    return f"Trained {result.global_step} steps; model in {where}."


def _memory(cfg, say, dry_run: bool, refuse: bool) -> bool:
    """Print the estimate (the table of alternatives with ``dry_run``); refuse one that cannot fit."""
    from trainer.memory import GB, available_bytes, estimate, report

    est = estimate(cfg)
    available, where = available_bytes()
    fits = est.total <= available
    say(report(cfg, est, available, where) if dry_run else f"memory estimate: {est.line()}; {available / GB:.2f} GB "
        f"{where}")
    if refuse and not fits and not dry_run:
        raise ValueError(f"This configuration needs {est.total / GB:.2f} GB before activations, more than the "
                         f"{available / GB:.2f} GB {where}; see --dry-run for what fits, or pass --ignore-memory.")
    return fits


def _prepare(cfg, df, cache_dir: Path, device, progress: bool) -> None:
    from trainer.cache import prepare_cache
    from trainer.encoders import PromptEncoder
    from trainer.models import denoiser_text_dim, load_vae, vace_model

    separator = None
    if cfg.audio_encoder_path and (cfg.vocal_separator or cfg.audio_features == "hallo4"):
        from trainer.motion.vocal_separation import load_vocal_separator

        separator, note = load_vocal_separator(cfg.vocal_separator)  # a bad model stops here, before any work
        print(note)
    vae = load_vae(cfg.model_kind, cfg.vae_path).to(device)
    text_encoder = PromptEncoder.from_pretrained(cfg.text_encoder_path, cfg.text_length) \
        if cfg.text_encoder_path else None
    audio_encoder = None
    if cfg.audio_encoder_path:
        from transformers import Wav2Vec2Model

        audio_encoder = Wav2Vec2Model.from_pretrained(cfg.audio_encoder_path, local_files_only=True).eval().to(device)
    image_encoder = None
    if cfg.image_encoder_path:
        from transformers import CLIPVisionModel

        image_encoder = CLIPVisionModel.from_pretrained(cfg.image_encoder_path, local_files_only=True).to(device)
    prepare_cache(df, vae, cache_dir, frames_rule="4k+1" if cfg.model_kind == "wan" else "n",
                  num_frames=cfg.num_frames, height=cfg.height, width=cfg.width, fps=cfg.fps,
                  audio_encoder=audio_encoder, text_encoder=text_encoder,
                  text_shape=(cfg.text_length, denoiser_text_dim(cfg.model_kind, cfg.denoiser_path)),
                  audio_layers=cfg.audio_layers, audio_window=cfg.audio_window, i2v=cfg.reference_image == "i2v",
                  reference=cfg.reference_image == "vace",
                  image_encoder=image_encoder, skeleton_vae=cfg.skeleton_input == "vae", progress=progress,
                  audio_features=cfg.audio_features, vace=vace_model(cfg),
                  skeleton_framing=cfg.skeleton_framing, separator=separator)
