"""Loading a trained run for sampling: the model as it was saved (final/ or a checkpoint step), its VAE and encoders.

A run folder (what ``curate train-dpo`` / ``train-sft`` wrote) holds ``config.json`` with the base model, VAE and
encoder paths, and ``final/`` (or ``checkpoints/step-N/``) with what was trained. :func:`load_run` rebuilds the model
as ``trainer.models.load_trained`` does (base + motion module + LoRA, or the full denoiser); a run started with
``--init`` first gets its starting run's model, that run's LoRA fused, as training did.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from storage.errors import CurateError


@dataclass
class Run:
    """A loaded run: its config, model, VAE and encoders, on ``device``."""

    path: Path
    step: int | None  # None: final/
    cfg: object  # DiffusionDPOConfig
    model: torch.nn.Module
    vae: torch.nn.Module
    audio_encoder: object | None
    text_encoder: object | None
    image_encoder: object | None
    device: torch.device
    separator: object | None = None  # the vocal separator (``vocal_separator``), run on each clip's audio

    @property
    def has_audio(self) -> bool:
        from trainer.motion.attach import has_motion

        return has_motion(self.model) and self.model.motion.audio_proj is not None

    @property
    def has_skeleton(self) -> bool:
        """Hallo4's skeleton branch (``pose_proj``): each clip needs a rendered skeleton video."""
        return _skeleton_branch(self.model)

    @property
    def vace(self) -> bool:
        """A VACE model (Hallo4 converted whole): its control input is built per window."""
        return "vace_layers" in dict(self.model.config)


def saved_steps(run_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (run_dir / "checkpoints").glob("step-*")
                  if p.is_dir() and p.name.split("-")[1].isdigit() and (p / "model.safetensors").is_file())


def load_run(run_dir: str | Path, step: int | None = None, device: str | torch.device = "cpu") -> Run:
    """The run's model (final, or checkpoint ``step``), VAE and encoders; one clear error for a folder that is
    not a finished run or a step that was not saved."""
    from trainer.generation.run_check import go_offline, model_folder_problems, read_run_config

    run_dir = Path(run_dir)
    go_offline()
    cfg = read_run_config(run_dir)
    steps = saved_steps(run_dir)
    if step is None and not (run_dir / "final").is_dir():
        raise CurateError(f"run {run_dir} is not a finished run (no final/); saved steps: {steps or 'none'} "
                          "(pass --step N).")
    if step is not None and step not in steps:
        raise CurateError(f"run {run_dir}: step {step} was not saved; saved steps: {steps or 'none'}.")
    problems = model_folder_problems(run_dir, cfg, step)
    if problems:
        raise CurateError(problems[0])
    with _one_line(f"run {run_dir}"):
        model = _load_final(cfg, run_dir / "final") if step is None else _load_step(cfg, run_dir, step)
        return _with_encoders(run_dir, step, cfg, model, torch.device(device))


def _with_encoders(run_dir: Path, step: int | None, cfg, model, device: torch.device) -> Run:
    from trainer.models import load_vae

    if _skeleton_branch(model) and cfg.skeleton_input != "vae":
        raise CurateError(f"run {run_dir}: the model has a skeleton branch on colour maps / keypoints "
                          f"(skeleton_input {cfg.skeleton_input!r}); sampling drives Hallo4's (skeleton_input 'vae', "
                          "a rendered skeleton video per clip) and audio-only models.")
    separator = None
    if cfg.audio_encoder_path and (cfg.vocal_separator or cfg.audio_features == "hallo4"):
        import sys

        from trainer.motion.vocal_separation import load_vocal_separator

        separator, note = load_vocal_separator(cfg.vocal_separator)
        print(note, file=sys.stderr)
    audio_encoder = text_encoder = image_encoder = None
    if cfg.audio_encoder_path:
        from transformers import Wav2Vec2Model

        audio_encoder = Wav2Vec2Model.from_pretrained(cfg.audio_encoder_path, local_files_only=True).eval().to(device)
    if cfg.text_encoder_path:
        from trainer.encoders import PromptEncoder

        text_encoder = PromptEncoder.from_pretrained(cfg.text_encoder_path, cfg.text_length)
    if cfg.image_encoder_path:
        from transformers import CLIPVisionModel

        image_encoder = CLIPVisionModel.from_pretrained(cfg.image_encoder_path, local_files_only=True).to(device)
    run = Run(run_dir, step, cfg, model.eval().requires_grad_(False).to(device), load_vae(cfg.model_kind,
              cfg.vae_path).to(device), audio_encoder, text_encoder, image_encoder, device, separator)
    if run.has_audio and audio_encoder is None:
        raise CurateError(f"run {run_dir}: the model takes audio but config.json names no audio_encoder_path.")
    return run


@contextlib.contextmanager
def _one_line(what: str):
    """Loader errors (a missing file, a tensor of the wrong shape, a folder that is not a model) as one line."""
    try:
        yield
    except CurateError:
        raise
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        shown = next((ln for ln in lines if "size mismatch" in ln), lines[0] if lines else "")
        raise CurateError(f"{what} does not load: {type(e).__name__}: {shown[:300]}") from None


@contextlib.contextmanager
def _diffusers_silent():
    """diffusers logs a failed LoRA load as a multi-line ERROR before raising; the raised error says it in one."""
    from diffusers.utils import logging as dlog

    level = dlog.get_verbosity()
    dlog.set_verbosity(dlog.CRITICAL + 1)
    try:
        yield
    finally:
        dlog.set_verbosity(level)


def check_shapes(state: dict, expected: dict, file: Path) -> None:
    """Every tensor of ``state`` that the model also has must have the model's shape; one line naming file and key."""
    for key, value in state.items():
        want = expected.get(key)
        if want is not None and tuple(value.shape) != tuple(want.shape):
            raise CurateError(f"{file}: {key} has shape {tuple(value.shape)}, the model's is {tuple(want.shape)}.")


def _load_final(cfg, final: Path) -> torch.nn.Module:
    from trainer.models import LORA_ADAPTER, LORA_WEIGHTS, load_trained

    if (final / "denoiser").is_dir():
        return load_trained(cfg.model_kind, cfg.denoiser_path, final)
    # The base (or the --init run's model), then the motion module and LoRA piece by piece, as load_trained does,
    # so that a piece that does not fit is named.
    model = _init_model(cfg)
    if (final / "motion").is_dir():
        _load_motion_weights(model, final / "motion")
    if (final / "lora").is_dir():
        with _one_line(f"{final / 'lora' / LORA_WEIGHTS}"), _diffusers_silent():
            model.load_lora_adapter(str(final / "lora"), prefix=None, adapter_name=LORA_ADAPTER,
                                    weight_name=LORA_WEIGHTS)
    return model


def _load_motion_weights(model, folder: Path) -> None:
    """The run's motion module: attached from ``folder``, or (a model that has one from its ``--init`` run) its
    weights replaced by the run's."""
    from safetensors.torch import load_file

    from trainer.motion.attach import has_motion, load_motion
    from trainer.motion.config import MOTION_WEIGHTS

    if not has_motion(model):
        load_motion(model, folder)
        return
    state = load_file(str(folder / MOTION_WEIGHTS))
    check_shapes(state, model.state_dict(), folder / MOTION_WEIGHTS)
    _missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise CurateError(f"{folder}: motion weights that do not fit the --init run's module: {unexpected[:3]}.")


def _init_model(cfg) -> torch.nn.Module:
    """What a run's training started from: its ``--init`` run's model with that run's LoRA fused, or the base."""
    from trainer.models import load_denoiser, load_trained

    if not cfg.init_from:
        return load_denoiser(cfg.model_kind, cfg.denoiser_path)
    model = load_trained(cfg.model_kind, cfg.denoiser_path, Path(cfg.init_from) / "final")
    if getattr(model, "peft_config", None):
        model.fuse_lora()
        model.unload_lora()
    return model


def _load_step(cfg, run_dir: Path, step: int) -> torch.nn.Module:
    """The model of ``checkpoints/step-N``: the starting model, the motion module (shape from final/ or the init
    run), a LoRA when the checkpoint has one, then the checkpoint's trained weights by name."""
    from safetensors.torch import load_file

    from trainer.motion.attach import has_motion, is_motion_key, load_motion
    from trainer.motion.config import MOTION_CONFIG
    from trainer.trainable import build_policy

    file = run_dir / "checkpoints" / f"step-{step:06d}" / "model.safetensors"
    with _one_line(str(file)):
        state = load_file(str(file))
    model = _init_model(cfg)
    if not has_motion(model) and any(is_motion_key(k) for k in state):
        found = [d for d in (run_dir / "final" / "motion", run_dir / "final" / "denoiser")
                 if (d / MOTION_CONFIG).is_file()]
        if not found:
            raise CurateError(f"run {run_dir}: step {step} has a motion module whose shape no motion_config.json "
                              "records (the run never finished); sample its final/ instead.")
        load_motion(model, found[0])
    if any("lora_" in k for k in state) and not getattr(model, "peft_config", None):
        build_policy(model, cfg.__class__(**{**cfg.to_dict(), "mode": "sft", "gradient_checkpointing": False}))
    params = dict(model.named_parameters())
    unknown = sorted(set(state) - set(params))
    if unknown:
        raise CurateError(f"run {run_dir}: step {step} does not fit the model it was trained on: {unknown[:3]}.")
    check_shapes(state, params, file)
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
    return model


def _skeleton_branch(model) -> bool:
    from trainer.motion.attach import has_motion

    return has_motion(model) and model.motion.skeleton_proj is not None
