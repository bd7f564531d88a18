"""One micro-step's loss for each mode: the maths lives in ``trainer.losses``; this only wires model calls to it.

DPO: one forward over winners and losers together (2B samples), the reference forward under ``no_grad`` on the
same ``x_t``, timesteps and conditioning, then ``diffusion_dpo_loss``. SFT: winners only (table 8's baseline).
Plain: every video of the batch, winners and losers alike, with the ordinary diffusion loss.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from trainer.dpo_config import DiffusionDPOConfig
from trainer.losses import diffusion_dpo_loss, per_sample_mse, sft_loss
from trainer.models import Denoiser
from trainer.trainable import Policy


def make_objective(cfg: DiffusionDPOConfig):
    """Flow matching for Wan, DDPM epsilon/v for UNets (``trainer.objectives``)."""
    from trainer.objectives import EpsilonObjective, FlowMatchingObjective

    if cfg.model_kind == "wan":
        return FlowMatchingObjective(shift=cfg.shift, weighting=cfg.weighting,
                                     num_train_timesteps=cfg.num_train_timesteps, weight_cap=cfg.weight_cap or None)
    if cfg.weighting != "none":
        raise ValueError(f"weighting {cfg.weighting!r} is for flow matching; the UNet (DDPM) path takes 'none'.")
    return EpsilonObjective(num_train_timesteps=cfg.num_train_timesteps, prediction_type=cfg.prediction_type)


def autocast_for(cfg: DiffusionDPOConfig, device: torch.device):
    """bf16 autocast on GPU only; CPU runs (tests, smoke runs) stay float32 for exact, comparable numbers."""
    if cfg.mixed_precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compute_loss(cfg: DiffusionDPOConfig, policy: Policy, model: nn.Module, unwrapped: nn.Module,
                 denoiser: Denoiser, objective: Any, batch: dict, generator: torch.Generator | None,
                 ref_errors: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one micro-batch and its metrics.

    Args:
        model: the policy as called for training (possibly DDP-wrapped); ``unwrapped``: the bare module.
        batch: the collated dict (``latents_w``, ``latents_l`` (B, C, T, H, W), ``cond``), already on the device.
        generator: the noise RNG (checkpointed, so a resumed run draws the same noise).
        ref_errors: (N, draws, 2) precomputed reference errors (``trainer.reference_errors``), or None for a live
            reference forward.
    """
    with autocast_for(cfg, batch["latents_w"].device):
        if cfg.mode == "dpo" and ref_errors is not None:
            return _dpo_precomputed(cfg, model, denoiser, objective, batch, generator, ref_errors)
        if cfg.mode == "dpo":
            return _dpo(cfg, policy, model, unwrapped, denoiser, objective, batch, generator)
        return _single(cfg, model, denoiser, objective, batch, generator)


def _dpo(cfg, policy, model, unwrapped, denoiser, objective, batch, generator):
    noised = objective.noise_pair(batch["latents_w"], batch["latents_l"], generator=generator)
    cond = {k: torch.cat([v, v]) for k, v in batch["cond"].items()}  # batch is [chosen, rejected]
    # reference first: toggling the LoRA adapter flips requires_grad, which must not happen mid-graph
    with torch.no_grad(), policy.reference_model(unwrapped) as ref:
        ref_pred = denoiser(ref, noised.x_t, noised.timesteps, cond)  # (2B, C, T, H, W)
        ref_err_w, ref_err_l = per_sample_mse(ref_pred, noised.target).chunk(2)  # batch is [chosen, rejected]
    pred = denoiser(model, noised.x_t, noised.timesteps, cond)  # (2B, C, T, H, W)
    err_w, err_l = per_sample_mse(pred, noised.target).chunk(2)  # batch is [chosen, rejected]
    return diffusion_dpo_loss(err_w, err_l, ref_err_w, ref_err_l, beta=cfg.beta, weight=noised.weight,
                              loss_type=cfg.loss_type, label_smoothing=cfg.label_smoothing)


def _dpo_precomputed(cfg, model, denoiser, objective, batch, generator, ref_errors):
    from trainer.reference_errors import noised_draws

    b = batch["latents_w"].shape[0]
    device = generator.device if generator is not None else "cpu"
    ks = torch.randint(0, ref_errors.shape[1], (b,), generator=generator, device=device).cpu()
    noised = noised_draws(objective, batch, ks, cfg.seed)
    ref = ref_errors[batch["index"].cpu(), ks].to(batch["latents_w"].device)  # (B, 2): [chosen, rejected]
    cond = {k: torch.cat([v, v]) for k, v in batch["cond"].items()}  # batch is [chosen, rejected]
    err_w, err_l = per_sample_mse(denoiser(model, noised.x_t, noised.timesteps, cond), noised.target).chunk(2)
    return diffusion_dpo_loss(err_w, err_l, ref[:, 0], ref[:, 1], beta=cfg.beta, weight=noised.weight,
                              loss_type=cfg.loss_type, label_smoothing=cfg.label_smoothing)


def _drop_audio(cond: dict, rate: float, generator: torch.Generator | None) -> dict:
    """Zero the audio of about ``rate`` of the samples: zero audio is the unconditional input of audio CFG."""
    audio = cond.get("audio_embeds")
    if audio is None or not rate:
        return cond
    keep = torch.rand(audio.shape[0], generator=generator, device=audio.device) >= rate
    return {**cond, "audio_embeds": audio * keep.view(-1, *([1] * (audio.dim() - 1))).to(audio.dtype)}


def _single(cfg, model, denoiser, objective, batch, generator):
    cond = batch["cond"]
    if cfg.mode == "sft":
        x0 = batch["latents_w"]  # (B, C, T, H, W), winners only
        cond = _drop_audio(cond, cfg.audio_dropout, generator)
    else:
        x0 = torch.cat([batch["latents_w"], batch["latents_l"]])  # batch is [chosen, rejected]
        cond = {k: torch.cat([v, v]) for k, v in cond.items()}
    noised = objective.noise(x0, generator=generator)
    err = per_sample_mse(denoiser(model, noised.x_t, noised.timesteps, cond), noised.target)
    loss = sft_loss(err, weight=noised.weight)
    b = batch["latents_w"].shape[0]
    metrics = {"loss": loss.item(), "err/model_chosen": err[:b].mean().item()}
    if cfg.mode == "plain":
        metrics["err/model_rejected"] = err[b:].mean().item()
    return loss, metrics
