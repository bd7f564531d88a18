"""What ``curate train-dpo`` does: validate the manifest, fill the latent cache, train."""

from __future__ import annotations

from pathlib import Path


def run(cfg, manifest: Path, media_roots, *, resume: bool, prepare_only: bool, progress: bool,
        manifest_kind: str = "pairs") -> str | None:
    """Validate, cache, train; returns the line the command prints (None on processes other than the main one).

    ``manifest_kind``: "pairs" (a pair manifest) or "videos" (a plain video manifest, for SFT)."""
    import torch
    from accelerate import PartialState

    from trainer.data import PairDataset, collate_pairs, validate_manifest
    from trainer.models import check_latents

    df = validate_manifest(manifest, roots=media_roots, kind=manifest_kind)
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
                   resume=resume, progress=progress)
    if not state.is_main_process:
        return None
    where = result.final_dir or (Path(cfg.output_dir) / "checkpoints")
    return f"Trained {result.global_step} steps; model in {where}."


def _prepare(cfg, df, cache_dir: Path, device, progress: bool) -> None:
    from trainer.cache import prepare_cache
    from trainer.encoders import PromptEncoder
    from trainer.models import denoiser_text_dim, load_vae, vace_model

    if cfg.audio_encoder_path and cfg.audio_features == "hallo4":
        from trainer.motion.hallo4_media import vocal_separation

        print(vocal_separation(cfg.vocal_separator))
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
                  image_encoder=image_encoder, skeleton_vae=cfg.skeleton_input == "vae", progress=progress,
                  audio_features=cfg.audio_features, vace=vace_model(cfg),
                  skeleton_framing=cfg.skeleton_framing)
