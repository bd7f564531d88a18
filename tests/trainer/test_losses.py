"""Diffusion-DPO losses against hand-worked numbers (trainer/losses.py).

The three pairs used throughout, beta = 2500 (the paper's value), float64 so rounding stays far below atol:

    pair  e_theta(w)  e_ref(w)  e_theta(l)  e_ref(l)   logits = (e_ref(w)-e_theta(w)) - (e_ref(l)-e_theta(l))   h = beta*logits
    A     0.30        0.30      0.40        0.40       0 - 0            =  0                                      0
    B     0.2996      0.30      0.50        0.50       0.0004 - 0       =  0.0004                                 1
    C     0.10        0.10      0.1992      0.20       0 - 0.0008       = -0.0008                                -2

In words: A is untouched, B improved the winner, C improved the loser (bad).
Per-pair values, with L(h) = -log sigma(h) = log(1 + e^-h):

    L(0) = ln 2 = 0.693147,  L(1) = log(1 + e^-1) = 0.313262,  L(-2) = log(1 + e^2) = 2.126928
    sigmoid mean = (0.693147 + 0.313262 + 2.126928) / 3 = 1.044446
    hinge: max(0, 1 - h) = 1, 0, 3 -> mean 4/3
    robust, eps = 0.1: ((1-eps) L(h) - eps L(-h)) / (1-2eps); since L(-h) = L(h) + h this is L(h) - eps h / (1-2eps)
        = 0.693147, 0.313262 - 0.125 = 0.188262, 2.126928 + 0.25 = 2.376928 -> mean 1.086112
    cDPO (sigmoid, eps = 0.1): (1-eps) L(h) + eps L(-h) = L(h) + eps h
        = 0.693147, 0.413262, 1.926928 -> mean 1.011112
    ipo: (logits - 1/(2 beta))^2 with 1/(2 beta) = 0.0002:
        (-0.0002)^2 = 4e-8, (0.0002)^2 = 4e-8, (-0.001)^2 = 1e-6 -> mean 3.6e-7
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from trainer.losses import LOSS_TYPES, diffusion_dpo_loss, per_sample_mse, sft_loss

BETA = 2500.0
TOL = {"atol": 1e-4, "rtol": 1e-5}


def three_pairs(requires_grad: bool = False):
    t = lambda *v: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad)
    return {
        "model_err_w": t(0.30, 0.2996, 0.10),
        "model_err_l": t(0.40, 0.50, 0.1992),
        "ref_err_w": t(0.30, 0.30, 0.10),
        "ref_err_l": t(0.40, 0.50, 0.20),
    }


@pytest.mark.parametrize(
    ("loss_type", "eps", "expected"),
    [
        ("sigmoid", 0.0, (0.693147 + 0.313262 + 2.126928) / 3),
        ("hinge", 0.0, 4 / 3),
        ("robust", 0.1, (0.693147 + 0.188262 + 2.376928) / 3),
        ("sigmoid", 0.1, (0.693147 + 0.413262 + 1.926928) / 3),
    ],
)
def test_hand_worked_values(loss_type, eps, expected):
    loss, metrics = diffusion_dpo_loss(**three_pairs(), beta=BETA, loss_type=loss_type, label_smoothing=eps)
    assert_close(loss, torch.tensor(expected, dtype=torch.float64), **TOL)
    assert metrics["loss"] == pytest.approx(expected, abs=1e-4)


def test_ipo_hand_worked():
    """Values are ~1e-7 at the paper's beta, so compare relatively: mean (4e-8 + 4e-8 + 1e-6) / 3 = 3.6e-7.

    With beta = 0.5 (1/(2 beta) = 1) and logits scaled up 2500x to 0, 1, -2: (0-1)^2, (1-1)^2, (-2-1)^2 = 1, 0, 9
    -> mean 10/3.
    """
    loss, _ = diffusion_dpo_loss(**three_pairs(), beta=BETA, loss_type="ipo")
    assert_close(loss, torch.tensor(3.6e-7, dtype=torch.float64), atol=1e-12, rtol=1e-5)
    big = {k: v * 2500 for k, v in three_pairs().items()}
    loss, _ = diffusion_dpo_loss(**big, beta=0.5, loss_type="ipo")
    assert_close(loss, torch.tensor(10 / 3, dtype=torch.float64), **TOL)


def test_metrics_hand_worked():
    """rewards/chosen = -beta (e_theta(w) - e_ref(w)) = 0, 1, 0 -> 1/3; rewards/rejected = 0, 0, 2 -> 2/3;
    margins = h = 0, 1, -2 -> -1/3; accuracies: tie A counts 0.5, B 1, C 0 -> 0.5.
    Mean errors: model w (0.3 + 0.2996 + 0.1)/3 = 0.2332, model l (0.4 + 0.5 + 0.1992)/3 = 0.3664,
    ref w 0.7/3, ref l 1.1/3."""
    _, m = diffusion_dpo_loss(**three_pairs(), beta=BETA)
    expected = {
        "rewards/chosen": 1 / 3,
        "rewards/rejected": 2 / 3,
        "rewards/margins": -1 / 3,
        "rewards/accuracies": 0.5,
        "err/model_chosen": 0.2332,
        "err/model_rejected": 0.3664,
        "err/ref_chosen": 0.7 / 3,
        "err/ref_rejected": 1.1 / 3,
    }
    for k, v in expected.items():
        assert m[k] == pytest.approx(v, abs=1e-4), k
    assert all(isinstance(v, float) for v in m.values())


@pytest.mark.parametrize("loss_type", ["sigmoid", "robust"])
def test_ln2_when_policy_equals_reference(loss_type):
    """Policy == reference (step 0 with a zero-initialised LoRA): h = 0 for every pair, so the loss is ln 2."""
    g = torch.Generator().manual_seed(0)
    ew, el = torch.rand(5, generator=g), torch.rand(5, generator=g)
    eps = 0.2 if loss_type == "robust" else 0.0
    loss, m = diffusion_dpo_loss(ew, el, ew.clone(), el.clone(), beta=BETA, loss_type=loss_type,
                                 label_smoothing=eps)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-7)
    assert m["rewards/accuracies"] == 0.5 and m["rewards/margins"] == 0.0


def test_weight_scales_like_beta():
    """h = beta * w * logits: weight 2 at beta 1250 equals weight 1 at beta 2500; per-pair weights (1, 0.5, 0.5)
    give h = 0, 0.5, -1 -> mean(ln 2, log(1 + e^-0.5), log(1 + e)) = (0.693147 + 0.474077 + 1.313262) / 3."""
    a, _ = diffusion_dpo_loss(**three_pairs(), beta=1250.0, weight=2.0)
    b, _ = diffusion_dpo_loss(**three_pairs(), beta=2500.0)
    assert_close(a, b, **TOL)
    w = torch.tensor([1.0, 0.5, 0.5], dtype=torch.float64)
    c, m = diffusion_dpo_loss(**three_pairs(), beta=BETA, weight=w)
    assert_close(c, torch.tensor((0.693147 + 0.474077 + 1.313262) / 3, dtype=torch.float64), **TOL)
    assert m["rewards/margins"] == pytest.approx((0 + 0.5 - 1) / 3, abs=1e-6)


def test_beta_convention_matches_salesforce_half_factor():
    """Salesforce: -logsigmoid(-0.5 * beta_sf * ((m_w - m_l) - (r_w - r_l))) with beta_sf = 5000."""
    p = three_pairs()
    inside = -0.5 * 5000 * ((p["model_err_w"] - p["model_err_l"]) - (p["ref_err_w"] - p["ref_err_l"]))
    salesforce = -torch.nn.functional.logsigmoid(inside).mean()
    ours, _ = diffusion_dpo_loss(**p, beta=2500)
    assert_close(ours, salesforce, **TOL)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_gradient_sign(loss_type):
    """Lowering the winner's policy error lowers the loss (d/de_theta(w) > 0); lowering the loser's raises it.
    The reference gets no gradient. Pair B of hinge is outside the margin (h = 1), so use h < 1 pairs only."""
    p = three_pairs(requires_grad=True)
    eps = 0.1 if loss_type == "robust" else 0.0
    loss, _ = diffusion_dpo_loss(**p, beta=BETA, loss_type=loss_type, label_smoothing=eps)
    loss.backward()
    active = [0, 2]  # A (h = 0) and C (h = -2) are inside every loss's active region
    assert (p["model_err_w"].grad[active] > 0).all()
    assert (p["model_err_l"].grad[active] < 0).all()
    assert p["ref_err_w"].grad is None and p["ref_err_l"].grad is None
    # a small step against the gradient on the winner error lowers the loss
    with torch.no_grad():
        step = {k: v.detach().clone() for k, v in p.items()}
        step["model_err_w"][0] -= 1e-5
        lower, _ = diffusion_dpo_loss(**step, beta=BETA, loss_type=loss_type, label_smoothing=eps)
    assert lower.item() < loss.item()


def test_per_sample_mse_reduces_every_non_batch_dim():
    """5-D (2, 2, 2, 2, 3): sample 0 all ones vs zeros -> 1; sample 1 has one element 4 off out of 24 -> 16/24."""
    pred = torch.zeros(2, 2, 2, 2, 3)
    target = torch.zeros_like(pred)
    pred[0] = 1.0
    pred[1, 1, 1, 1, 2] = 4.0
    out = per_sample_mse(pred, target)
    assert out.shape == (2,)
    assert_close(out, torch.tensor([1.0, 16 / 24]), **TOL)
    assert per_sample_mse(pred.half(), target.half()).dtype == torch.float32
    with pytest.raises(ValueError, match="same shape"):
        per_sample_mse(pred, target[:1])


def test_sft_loss_is_mean_winner_error():
    e = torch.tensor([0.2, 0.4, 0.9])
    assert_close(sft_loss(e), torch.tensor(0.5), **TOL)
    assert_close(sft_loss(e, weight=torch.tensor([1.0, 0.0, 0.0])), torch.tensor(0.2 / 3), **TOL)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta": 0.0}, "beta must be > 0"),
        ({"beta": 1.0, "loss_type": "cpo"}, "loss_type must be one of"),
        ({"beta": 1.0, "label_smoothing": 0.5}, r"label_smoothing must be in \[0, 0.5\)"),
        ({"beta": 1.0, "loss_type": "hinge", "label_smoothing": 0.1}, "applies to 'sigmoid' and 'robust'"),
        ({"beta": 1.0, "weight": torch.ones(2)}, "weight must be a scalar or shape"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diffusion_dpo_loss(**three_pairs(), **kwargs)


def test_shape_mismatch_names_shapes():
    p = three_pairs()
    p["ref_err_l"] = p["ref_err_l"][:2]
    with pytest.raises(ValueError, match="ref_err_l"):
        diffusion_dpo_loss(**p, beta=1.0)
