"""The memory a training configuration needs before activations, worked out before anything is loaded.

Parameters are counted on PyTorch's ``meta`` device (the denoiser built from its config.json, plus the motion module
the run will attach), so the count is exact and costs no memory. Per process, a run holds:

    weights          every parameter, in the dtype the denoiser is loaded in (float32 today)
    LoRA weights     r x (in + out) per targeted Linear, float32
    frozen copy      a second set of weights: reference 'frozen_copy' with a live reference (not precomputed)
    gradients        one float32 per trainable parameter
    AdamW states     two float32 per trainable parameter (exp_avg, exp_avg_sq)

Activations come on top (they depend on frames, size, batch and checkpointing): a configuration whose estimate
alone exceeds the available memory cannot fit, and is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

GB = 1e9
FLOAT32 = 4
OPTIMIZER_STATES = 2  # AdamW: exp_avg, exp_avg_sq


@dataclass(frozen=True)
class MemoryEstimate:
    """Parameter counts of one configuration and the bytes they take."""

    params: int  # denoiser + motion module
    trainable: int  # LoRA weights, the phase's motion weights, or every parameter
    lora: int  # LoRA weights added (0 without LoRA)
    frozen_copy: bool  # a frozen deep copy of the model is the reference
    weight_bytes: int = FLOAT32  # bytes per stored weight

    def parts(self) -> dict[str, int]:
        """Bytes of each part, in the order of the module docstring."""
        return {"weights": self.params * self.weight_bytes, "lora": self.lora * FLOAT32,
                "frozen_copy": self.params * self.weight_bytes if self.frozen_copy else 0,
                "gradients": self.trainable * FLOAT32, "optimizer": self.trainable * FLOAT32 * OPTIMIZER_STATES}

    @property
    def total(self) -> int:
        return sum(self.parts().values())

    def line(self) -> str:
        p = self.parts()
        shown = ", ".join(f"{k.replace('_', ' ')} {v / GB:.2f}" for k, v in p.items() if v)
        return (f"{self.total / GB:.2f} GB before activations ({shown}; {self.params / 1e9:.3f} B parameters, "
                f"{self.trainable / 1e6:.3f} M trainable)")


def estimate(cfg) -> MemoryEstimate:
    """The estimate of ``cfg`` (a ``DiffusionDPOConfig``), from config files only."""
    model = meta_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    lora = lora_params(model, cfg.lora_targets, cfg.lora_rank) if cfg.uses_lora and not cfg.phase else 0
    if cfg.phase:
        from trainer.motion.phases import phase_parameters

        trainable = sum(p.numel() for p in phase_parameters(model, cfg.phase).values()) \
            if getattr(model, "motion", None) is not None else 0
    else:
        trainable = lora if cfg.uses_lora else params
    copy = not cfg.phase and not cfg.uses_lora and cfg.uses_reference
    return MemoryEstimate(params=params, trainable=trainable, lora=lora, frozen_copy=copy)


def alternatives(cfg, est: MemoryEstimate) -> list[tuple[str, MemoryEstimate]]:
    """The configuration as given and the usual ways to make a DPO run smaller, each with its estimate."""
    rows = [("as configured", est)]
    if cfg.phase or cfg.mode != "dpo":
        return rows
    model_params = est.params
    lora = est.lora or lora_params(meta_model(cfg), cfg.lora_targets, cfg.lora_rank)
    full = MemoryEstimate(params=model_params, trainable=model_params, lora=0, frozen_copy=True)
    rows += [("full fine-tune, frozen copy (reference: frozen_copy)", full),
             ("full fine-tune, precompute_reference: true (no copy)", replace(full, frozen_copy=False)),
             (f"LoRA r={cfg.lora_rank} (reference: lora)",
              MemoryEstimate(params=model_params, trainable=lora, lora=lora, frozen_copy=False))]
    return rows


def available_bytes() -> tuple[int, str]:
    """(bytes free for one process, where): the GPU's free memory, or the machine's MemAvailable on a CPU."""
    import torch

    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free), f"free on {torch.cuda.get_device_name()}"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "available RAM (CPU run)"
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"), "free RAM (CPU run)"


def report(cfg, est: MemoryEstimate, available: int, where: str) -> str:
    """The table ``--dry-run`` prints: each alternative, its estimate, and whether it fits."""
    lines = [f"memory per process, before activations; {available / GB:.2f} GB {where}:"]
    for name, e in alternatives(cfg, est):
        verdict = "fits" if e.total <= available else "does NOT fit"
        lines.append(f"  {name:55} {e.total / GB:8.2f} GB  {verdict}")
    lines.append(f"as configured: {est.line()}")
    return "\n".join(lines)


def meta_model(cfg):
    """The denoiser on the meta device with the motion module the run will have (no memory, no weights read)."""
    import torch
    from diffusers import UNet2DConditionModel, WanTransformer3DModel

    from trainer.models import read_model_config

    config = read_model_config(cfg.model_kind, cfg.denoiser_path)
    cls = {"wan": WanTransformer3DModel, "unet": UNet2DConditionModel}[cfg.model_kind]
    with torch.device("meta"):
        model = cls.from_config(config)
        motion = motion_config(cfg)
        if motion is not None:
            from trainer.motion.attach import attach_motion

            attach_motion(model, motion, cfg.model_kind)
    return model


def motion_config(cfg):
    """The motion module the run will train: the init run's, or the one the audio encoder calls for, or None
    (a skeleton branch without audio is only known once the cache holds the skeletons: left out, it is small)."""
    from trainer.motion.config import MOTION_CONFIG, MotionConfig

    if cfg.init_from:
        for folder in ("motion", "denoiser"):
            path = Path(cfg.init_from) / "final" / folder / MOTION_CONFIG
            if path.is_file():
                raw = json.loads(path.read_text())
                raw.pop("kind", None)
                return MotionConfig(**raw)
    if not cfg.audio_encoder_path or cfg.motion == "off":
        return None
    from trainer.encoders import check_encoder_folder

    enc = check_encoder_folder(cfg.audio_encoder_path, "audio")
    width = enc["hidden_size"] * (enc["num_hidden_layers"] if cfg.audio_layers == "all" else 1)
    return MotionConfig(audio_dim=width, audio_projection=cfg.audio_projection,
                        audio_window_tokens=2 * cfg.audio_window + 1,
                        audio_ablation=cfg.audio_ablation.removeprefix("audio"))


def lora_params(model, targets, rank: int) -> int:
    """Weights a LoRA of ``rank`` adds: r x (in + out) per Linear whose name is, or ends with, a target (peft's
    rule for a list of target names)."""
    from torch import nn

    n = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets):
            n += rank * (module.in_features + module.out_features)
    return n
