"""Noising objectives (trainer/objectives.py) against diffusers' schedulers and hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler
from torch.testing import assert_close

from trainer.objectives import EpsilonObjective, FlowMatchingObjective

VIDEO = (2, 4, 5, 6, 8)  # B, C, T, H, W latents


def latents(seed: int, shape=VIDEO) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def both_objectives():
    return [FlowMatchingObjective(shift=5.0), EpsilonObjective(), EpsilonObjective(prediction_type="v_prediction")]


@pytest.mark.parametrize("obj", both_objectives(), ids=["flow", "eps", "v"])
def test_pair_shares_noise_and_timestep(obj):
    """Shapes for 5-D video latents, [chosen; rejected] order, and one noise/timestep per pair.

    Feeding the same latents as winner and loser must give identical halves; with different latents the
    noise recovered from each half must be the same tensor."""
    x_w, x_l = latents(0), latents(1)
    out = obj.noise_pair(x_w, x_l, generator=torch.Generator().manual_seed(3))
    b = VIDEO[0]
    assert out.x_t.shape == out.target.shape == (2 * b, *VIDEO[1:])
    assert out.timesteps.shape == (2 * b,) and out.weight.shape == (b,)
    assert torch.equal(out.timesteps[:b], out.timesteps[b:])
    same = obj.noise_pair(x_w, x_w.clone(), generator=torch.Generator().manual_seed(3))
    assert torch.equal(same.x_t[:b], same.x_t[b:]) and torch.equal(same.target[:b], same.target[b:])
    # the two samples within the batch get different timesteps (seed 3 draws distinct ones)
    assert out.timesteps[0] != out.timesteps[1]


def test_flow_noise_pair_recovers_same_noise_and_target():
    """x_t = (1 - s) x0 + s n and v = n - x0  =>  n = x_t + (1 - s) v ... per half; both halves give the same n."""
    obj = FlowMatchingObjective(shift=3.0)
    x_w, x_l = latents(0), latents(1)
    out = obj.noise_pair(x_w, x_l, generator=torch.Generator().manual_seed(0))
    n = out.target + torch.cat([x_w, x_l])  # target = noise - x0
    b = VIDEO[0]
    assert_close(n[:b], n[b:])
    s = (out.timesteps / 1000).reshape(-1, 1, 1, 1, 1)
    assert_close(out.x_t, (1 - s) * torch.cat([x_w, x_l]) + s * n)


def test_flow_grid_and_interpolation_equal_diffusers_scale_noise():
    """Every grid entry equals the scheduler's sigmas/timesteps, and x_t equals scale_noise(x0, t, noise)."""
    for shift in (1.0, 3.0, 5.0):
        obj = FlowMatchingObjective(shift=shift)
        sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
        assert torch.equal(obj.sigmas, sched.sigmas[:1000])
        assert torch.equal(obj.timesteps, sched.timesteps)
    x0 = latents(5)
    out = obj.noise(x0, generator=torch.Generator().manual_seed(7))
    noise = out.target + x0
    ref = sched.scale_noise(x0, out.timesteps, noise)
    assert_close(out.x_t, ref)


def test_flow_shift_formula_by_hand():
    """shift 3, N = 4: base sigmas 1, 0.75, 0.5, 0.25 -> 3s/(1+2s) = 1, 2.25/2.5 = 0.9, 1.5/2 = 0.75, 0.75/1.5 = 0.5."""
    obj = FlowMatchingObjective(shift=3.0, num_train_timesteps=4)
    assert_close(obj.sigmas, torch.tensor([1.0, 0.9, 0.75, 0.5]))
    assert_close(obj.timesteps, torch.tensor([4.0, 3.6, 3.0, 2.0]))


def test_epsilon_equals_ddpm_add_noise_and_velocity():
    for schedule in ("linear", "scaled_linear", "squaredcos_cap_v2"):
        obj = EpsilonObjective(beta_schedule=schedule, beta_start=0.00085, beta_end=0.012)
        sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule=schedule, beta_start=0.00085, beta_end=0.012)
        assert_close(obj.alphas_cumprod, sched.alphas_cumprod)
    x0 = latents(2)
    out = obj.noise(x0, generator=torch.Generator().manual_seed(1))
    assert out.timesteps.dtype == torch.long
    noise = out.target
    assert_close(out.x_t, sched.add_noise(x0, noise, out.timesteps))
    v = EpsilonObjective(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    vout = v.noise(x0, generator=torch.Generator().manual_seed(1))
    sched_v = DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    assert torch.equal(vout.timesteps, out.timesteps)  # same generator draws
    assert_close(vout.target, sched_v.get_velocity(x0, noise, out.timesteps))


@pytest.mark.parametrize("obj", both_objectives(), ids=["flow", "eps", "v"])
def test_seeded_determinism(obj):
    x_w, x_l = latents(0), latents(1)
    a = obj.noise_pair(x_w, x_l, generator=torch.Generator().manual_seed(11))
    b = obj.noise_pair(x_w, x_l, generator=torch.Generator().manual_seed(11))
    c = obj.noise_pair(x_w, x_l, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a.x_t, b.x_t) and torch.equal(a.timesteps, b.timesteps)
    assert not torch.equal(a.x_t, c.x_t)


def test_flow_weightings():
    """none -> 1; sigma_sqrt -> sigma^-2; cosmap at sigma = 1 -> 2/pi; bsmntw has mean 1 over the grid and
    its largest weight near t = 500; a callable gets the sigmas."""
    idx = torch.tensor([0, 999])  # sigma = 1 and the smallest sigma
    assert_close(FlowMatchingObjective(weighting="none").weights(idx), torch.ones(2))
    obj = FlowMatchingObjective(shift=1.0, weighting="sigma_sqrt")
    assert_close(obj.weights(idx), torch.tensor([1.0, 1e6]), rtol=1e-4, atol=0)
    assert_close(FlowMatchingObjective(weighting="cosmap").weights(idx[:1]), torch.tensor([2 / math.pi]))
    bell = FlowMatchingObjective(shift=1.0, weighting="bsmntw")
    w = bell.weights(torch.arange(1000))
    assert w.mean().item() == pytest.approx(1.0, abs=1e-4)
    assert abs(bell.timesteps[w.argmax()].item() - 500) <= 1
    custom = FlowMatchingObjective(shift=1.0, weighting=lambda s: 2 * s)
    assert_close(custom.weights(idx), torch.tensor([2.0, 0.002]))


def test_logit_normal_concentrates_mid_grid():
    """With logit-normal(0, 1) about 68% of u = sigmoid(z) fall in (sigmoid(-1), sigmoid(1)) = (0.269, 0.731),
    i.e. indices 268..731; uniform draws put only ~46% there."""
    g = torch.Generator().manual_seed(0)
    idx = FlowMatchingObjective(weighting="logit_normal").sample_indices(20000, g)
    frac = ((idx >= 269) & (idx <= 730)).float().mean().item()
    assert frac == pytest.approx(0.683, abs=0.02)
    uni = FlowMatchingObjective().sample_indices(20000, g)
    assert ((uni >= 269) & (uni <= 730)).float().mean().item() == pytest.approx(0.462, abs=0.02)


def test_pair_shape_mismatch_and_bad_config():
    with pytest.raises(ValueError, match="same shape"):
        FlowMatchingObjective().noise_pair(latents(0), latents(1, (1, *VIDEO[1:])))
    with pytest.raises(ValueError, match="weighting must be one of"):
        FlowMatchingObjective(weighting="mode")
    with pytest.raises(ValueError, match="shift must be > 0"):
        FlowMatchingObjective(shift=0)
    with pytest.raises(ValueError, match="prediction_type"):
        EpsilonObjective(prediction_type="sample")
    with pytest.raises(ValueError, match="'none' or a callable"):
        EpsilonObjective(weighting="cosmap")


def test_eps_equivalent_weight_turns_velocity_errors_into_epsilon_errors():
    """x_t = (1 - s) x0 + s eps; a velocity guess v' implies eps' = x_t + (1 - s) v', so
    ||eps' - eps||^2 = (1 - s)^2 ||v' - v||^2. At shift 1, N = 1000, index 500 is sigma 0.5 -> w = 0.25."""
    obj = FlowMatchingObjective(shift=1.0, weighting="eps_equivalent")
    idx = torch.tensor([500, 0])
    assert_close(obj.weights(idx), torch.tensor([0.25, 0.0]))
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 4, 3, 3, generator=g)
    noised = obj._apply(x0, torch.randn(1, 4, 3, 3, generator=g), idx[:1])
    v_guess = torch.randn(1, 4, 3, 3, generator=g)
    eps = noised.target + x0  # target = eps - x0
    eps_guess = noised.x_t + 0.5 * v_guess
    assert_close((eps_guess - eps).pow(2).mean(), noised.weight[0] * (v_guess - noised.target).pow(2).mean())


def test_weight_cap_guards_sigma_sqrt():
    """shift 5: the smallest sigma is 5 * 0.001 / (1 + 4 * 0.001) = 0.00498 -> sigma^-2 = 40320; capped at 100."""
    idx = torch.tensor([999, 0])
    raw = FlowMatchingObjective(shift=5.0, weighting="sigma_sqrt").weights(idx)
    assert_close(raw, torch.tensor([(1.004 / 0.005) ** 2, 1.0]))
    capped = FlowMatchingObjective(shift=5.0, weighting="sigma_sqrt", weight_cap=100.0).weights(idx)
    assert capped.tolist() == [100.0, 1.0]
    with pytest.raises(ValueError, match="weight_cap must be > 0"):
        FlowMatchingObjective(weight_cap=0.0)
