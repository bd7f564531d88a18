"""The trainable weights and the reference policy of a run.

Reference policy (``cfg.reference``): ``lora`` adds a LoRA (B initialised to zero) and takes the reference from the
same weights with the adapter disabled, so there is no second model in memory; ``frozen_copy`` trains every weight
and keeps a frozen deep copy as the reference. A phased SFT run (``cfg.phase``) trains only the named parameters of
the motion module (``trainer.motion.phases.PHASES``) and has no reference.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from trainer.dpo_config import DiffusionDPOConfig
from trainer.models import LORA_ADAPTER


@dataclass
class Policy:
    """The trainable model and how to get reference predictions from it."""

    model: nn.Module  # trainable; the loop may wrap it for DDP
    reference: nn.Module | None  # frozen deep copy, or None when the reference is the LoRA-disabled base
    lora: bool
    lora_layers: list = field(default_factory=list)  # peft layers, found once: a full module walk per step costs
    phase: str = ""  # "audio" / "skeleton": phased SFT, only the motion module's named parameters train

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @contextlib.contextmanager
    def reference_model(self, unwrapped: nn.Module):
        """Yields the module that gives reference predictions; with LoRA, the policy with its adapter off."""
        if self.reference is not None:
            yield self.reference
            return
        # what diffusers' disable_adapters()/enable_adapters() do, without walking every module each step
        for layer in self.lora_layers:
            layer.enable_adapters(False)
        try:
            yield unwrapped
        finally:
            for layer in self.lora_layers:
                layer.enable_adapters(True)  # also re-marks the adapter trainable, which disabling unmarked


def build_policy(model: nn.Module, cfg: DiffusionDPOConfig) -> Policy:
    """Add a LoRA or unfreeze everything, and build the reference policy when ``cfg.mode == 'dpo'``.

    Call after seeding: LoRA's A matrices are drawn from the global RNG (B starts at zero, so the policy equals
    the reference at step 0 and the first DPO loss is exactly ln 2).
    """
    if cfg.phase:  # phased SFT (sec. 3.5): only the named motion parameters train, denoiser and VAE frozen
        from trainer.motion.phases import check_phase, phase_parameters

        check_phase(model, cfg.phase)
        model.requires_grad_(False)
        for p in phase_parameters(model, cfg.phase).values():
            p.requires_grad_(True)
        lora_layers, reference = [], None
    elif cfg.uses_lora:
        from peft import LoraConfig

        model.requires_grad_(False)
        model.add_adapter(LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, target_modules=list(cfg.lora_targets),
                                     init_lora_weights="gaussian"), adapter_name=LORA_ADAPTER)
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError(f"No module matched lora_targets {cfg.lora_targets}.")
        reference = None
        from peft.tuners.tuners_utils import BaseTunerLayer

        lora_layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    else:
        lora_layers = []
        model.requires_grad_(True)
        reference = _frozen_copy(model) if cfg.uses_reference else None
    if cfg.gradient_checkpointing:
        # Wan skips checkpointing when grad is off, so the reference forward pays nothing for it
        model.enable_gradient_checkpointing()
    model.train()
    return Policy(model=model, reference=reference, lora=cfg.uses_lora and not cfg.phase, lora_layers=lora_layers,
                  phase=cfg.phase)


def trainable_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trained weights by parameter name: the LoRA layers, or every weight for a full fine-tune."""
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = sorted(n for n, p in params.items() if p.requires_grad and n not in state)
    unknown = sorted(set(state) - set(params))
    if missing or unknown:
        raise ValueError(f"Checkpoint does not match the model: missing {missing[:5]}, unexpected {unknown[:5]}.")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def _frozen_copy(model: nn.Module) -> nn.Module:
    ref = copy.deepcopy(model)
    return ref.eval().requires_grad_(False)
