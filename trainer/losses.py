"""Diffusion-DPO and SFT losses as small pure functions of per-sample errors.

Hallo4 (sec. 3.2) adapts DPO (eq. 4) to diffusion by replacing the policy's log-likelihood ratio with the change
in denoising error against a frozen reference. For flow matching (eq. 5), with per-sample errors
``e = ||v - v_.(y_t, t)||^2`` (mean over every non-batch element, see :func:`per_sample_mse`):

    L = -E log sigma( -beta * w_t * [ (e_theta(w) - e_ref(w)) - (e_theta(l) - e_ref(l)) ] )

The same expression holds for epsilon-prediction UNets with epsilon (or v) errors. Written with
``logits = (e_ref(w) - e_theta(w)) - (e_ref(l) - e_theta(l))`` (positive when the policy improved the winner more
than the loser) and ``h = beta * w_t * logits``, the variants are, per pair:

    sigmoid  -log sigma(h)                                  (eq. 5; with label smoothing eps it is cDPO:
                                                             (1 - eps) * -log sigma(h) + eps * -log sigma(-h))
    hinge    max(0, 1 - h)                                  (SLiC-style; as in diffusers' research script)
    ipo      (w_t * logits - 1 / (2 * beta))^2              (IPO; note 1/(2*beta) is tiny at beta = 2500)
    robust   ((1 - eps) * -log sigma(h) + eps * log sigma(-h)) / (1 - 2 * eps)
             = -log sigma(h) - eps * h / (1 - 2 * eps)      (robust DPO, unbiased under label noise eps)

The loss is the mean over pairs.

Beta convention: there is NO 0.5 factor. The paper's beta = 2500 is this function's beta = 2500, and equals
beta = 5000 in the original Diffusion-DPO code (Salesforce), which computes ``-0.5 * beta * (...)``. diffusers'
research script uses the same convention as here (``beta_dpo = 2500``).

Metrics follow TRL's DPOTrainer names, mapped to diffusion: the implicit reward of a sample is
``-beta * w_t * (e_theta - e_ref)`` (the policy's error improvement over the reference, scaled).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainer.dpo_config import LOSS_TYPES  # one list: the config validates against it without torch


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample, shape (N,): the mean over EVERY non-batch dim, computed in float32.

    Reducing over all dims matters for 5-D video latents (B, C, T, H, W): a ``mean(dim=[1, 2, 3])`` leaves W
    un-reduced (a bug in some public video DPO code).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape. Got {tuple(pred.shape)} and {tuple(target.shape)}.")
    if pred.dim() < 1 or pred.shape[0] == 0:
        raise ValueError(f"pred needs a non-empty batch dim. Got shape {tuple(pred.shape)}.")
    diff = pred.float() - target.float()
    return diff.pow(2).reshape(diff.shape[0], -1).mean(dim=1)


def diffusion_dpo_loss(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    *,
    beta: float,
    weight: torch.Tensor | float | None = None,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Diffusion-DPO loss (Hallo4 eq. 5) over B pairs; see the module docstring for every formula.

    Args:
        model_err_w, model_err_l: (B,) policy errors on winners and losers (carry gradients).
        ref_err_w, ref_err_l: (B,) reference errors; detached here, the reference never gets gradients.
        beta: KL strength, paper convention (no 0.5 factor): paper 2500 == Salesforce code 5000.
        weight: w_t of eq. 5, a scalar or (B,) tensor; None means 1.
        loss_type: one of ``LOSS_TYPES``.
        label_smoothing: eps, the assumed fraction of flipped labels; for "sigmoid" (cDPO) and "robust",
            0 <= eps < 0.5.

    Returns:
        (mean loss, metrics) where metrics holds floats: ``rewards/chosen``, ``rewards/rejected`` (mean implicit
        rewards), ``rewards/accuracies`` (fraction of pairs with chosen reward > rejected; a tie counts 0.5, as in
        diffusers, so an untrained policy reads 0.5), ``rewards/margins`` (mean of chosen - rejected = mean h),
        ``err/model_chosen``, ``err/model_rejected``, ``err/ref_chosen``, ``err/ref_rejected`` (mean errors) and
        ``loss``.
    """
    _check_args(model_err_w, model_err_l, ref_err_w, ref_err_l, beta, loss_type, label_smoothing)
    ref_err_w, ref_err_l = ref_err_w.detach(), ref_err_l.detach()
    w = _weight(weight, model_err_w)
    # implicit rewards: how much the policy beat the reference on each sample, scaled by beta * w_t
    chosen = -beta * w * (model_err_w - ref_err_w)
    rejected = -beta * w * (model_err_l - ref_err_l)
    h = chosen - rejected  # = beta * w_t * logits
    losses = _per_pair(h, beta=beta, loss_type=loss_type, eps=label_smoothing)
    loss = losses.mean()
    with torch.no_grad():
        acc = (h > 0).float() + 0.5 * (h == 0).float()
        metrics = {
            "rewards/chosen": chosen.mean().item(),
            "rewards/rejected": rejected.mean().item(),
            "rewards/accuracies": acc.mean().item(),
            "rewards/margins": h.mean().item(),
            "err/model_chosen": model_err_w.mean().item(),
            "err/model_rejected": model_err_l.mean().item(),
            "err/ref_chosen": ref_err_w.mean().item(),
            "err/ref_rejected": ref_err_l.mean().item(),
            "loss": loss.item(),
        }
    return loss, metrics


def sft_loss(model_err_w: torch.Tensor, weight: torch.Tensor | float | None = None) -> torch.Tensor:
    """Supervised fine-tuning on winners (the table 8 "SFT" baseline): the mean of ``w_t * error``."""
    if model_err_w.dim() != 1:
        raise ValueError(f"model_err_w must be 1-D (B,). Got shape {tuple(model_err_w.shape)}.")
    return (_weight(weight, model_err_w) * model_err_w).mean()


def _per_pair(h: torch.Tensor, *, beta: float, loss_type: str, eps: float) -> torch.Tensor:
    if loss_type == "sigmoid":
        # cDPO: the label is right with probability 1 - eps
        return -(1 - eps) * F.logsigmoid(h) - eps * F.logsigmoid(-h)
    if loss_type == "hinge":
        return torch.relu(1 - h)
    if loss_type == "ipo":
        # IPO regresses the unscaled (but w_t-weighted) logits onto 1/(2 beta); h / beta = w_t * logits
        return (h / beta - 1 / (2 * beta)) ** 2
    # robust
    return ((1 - eps) * -F.logsigmoid(h) + eps * F.logsigmoid(-h)) / (1 - 2 * eps)


def _weight(weight, like: torch.Tensor) -> torch.Tensor:
    if weight is None:
        return torch.ones_like(like)
    w = torch.as_tensor(weight, dtype=like.dtype, device=like.device)
    if w.dim() > 1 or (w.dim() == 1 and w.shape[0] != like.shape[0]):
        raise ValueError(f"weight must be a scalar or shape ({like.shape[0]},). Got shape {tuple(w.shape)}.")
    return w.expand_as(like)


def _check_args(mw, ml, rw, rl, beta, loss_type, eps) -> None:
    shapes = {n: tuple(t.shape) for n, t in
              (("model_err_w", mw), ("model_err_l", ml), ("ref_err_w", rw), ("ref_err_l", rl))}
    if len(set(shapes.values())) != 1 or len(shapes["model_err_w"]) != 1:
        raise ValueError(f"errors must all be 1-D with the same length B. Got shapes {shapes}.")
    if not beta > 0:
        raise ValueError(f"beta must be > 0. Got {beta}.")
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}. Got {loss_type!r}.")
    if not 0 <= eps < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5). Got {eps}.")
    if eps and loss_type in ("hinge", "ipo"):
        raise ValueError(f"label_smoothing applies to 'sigmoid' and 'robust' only. Got loss_type {loss_type!r}.")
