"""Training objectives: how clean latents are noised, what the model must predict, and w_t of eq. 5.

Both objectives return a :class:`Noised` batch. For DPO, ``noise_pair`` draws ONE noise tensor and ONE timestep per
pair and uses them for the winner and the loser (Salesforce, diffusers and flow_grpo do this; drawing them
independently, as VideoDPO does, only adds variance). The result is laid out ``[chosen; rejected]`` along dim 0, so
the loop splits model outputs back with ``.chunk(2)``.

* :class:`FlowMatchingObjective` (Wan-style DiTs): the sigma grid of diffusers' ``FlowMatchEulerDiscreteScheduler``
  with ``shift`` (sigma' = s * sigma / (1 + (s - 1) * sigma) over sigma = linspace(1, 1/N, N)),
  ``x_t = (1 - sigma) x0 + sigma * noise``, target ``noise - x0``, model timestep ``sigma * N``.
* :class:`EpsilonObjective` (SD1.5-style UNets): DDPM ``x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise``, target
  ``noise`` (epsilon) or ``sqrt(a_t) noise - sqrt(1 - a_t) x0`` (v-prediction), integer timesteps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

# "eps_equivalent": uniform t, w_t = (1 - sigma)^2, which turns velocity errors into the matching epsilon errors
# (the model's implied epsilon is x_t + (1 - sigma) v, so eps_err = (1 - sigma)^2 v_err): a beta tuned on epsilon
# models (Diffusion-DPO's 2500/5000 on SD) keeps its scale. "none": uniform t, w_t = 1. "logit_normal": t drawn logit-normal(logit_mean, logit_std) on the grid, w_t = 1
# (Flow-DPO as released in flow_grpo). "bsmntw": uniform t, DiffSynth's Gaussian bump over t, normalised to mean 1
# over the grid. "sigma_sqrt" (w = sigma^-2) and "cosmap" (w = 2 / (pi (1 - 2 sigma + 2 sigma^2))): SD3's schemes.
FLOW_WEIGHTINGS = ("none", "logit_normal", "bsmntw", "sigma_sqrt", "cosmap", "eps_equivalent")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "v_prediction")


@dataclass
class Noised:
    """One noised batch. For ``noise_pair`` the first three fields are (2B, ...) in [chosen; rejected] order.

    x_t: model input. timesteps: float (flow, sigma * N) or long (DDPM) model timesteps.
    target: what the model should predict. weight: w_t per pair (or per sample for ``.noise``), shape (B,).
    """

    x_t: torch.Tensor
    timesteps: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32).to(x.dtype)


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, ...) to broadcast over a sample's dims."""
    return v.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def _check_pair(x0_w: torch.Tensor, x0_l: torch.Tensor) -> None:
    if x0_w.shape != x0_l.shape:
        raise ValueError(f"winner and loser latents must have the same shape. Got {tuple(x0_w.shape)} "
                         f"and {tuple(x0_l.shape)}.")


@dataclass
class FlowMatchingObjective:
    """Rectified-flow / flow-matching noising on diffusers' shifted sigma grid.

    shift: sigma shift s of the grid (1 = none; Wan trains with 5, the diffusers docs use 3-5 at low resolution).
    weighting: one of FLOW_WEIGHTINGS, or a callable mapping sigmas (B,) to w_t (B,) with uniform t.
    num_train_timesteps: N, the grid length; model timesteps are sigma * N.
    logit_mean, logit_std: the logit-normal density for weighting="logit_normal".
    weight_cap: w_t is clamped to at most this (None = no cap). sigma_sqrt reaches 1/sigma_min^2 (about 4e4 at
        shift 5), where beta * w_t * (error difference) saturates the sigmoid and the pair's gradient vanishes.
    """

    shift: float = 3.0
    weighting: str | Callable[[torch.Tensor], torch.Tensor] = "none"
    num_train_timesteps: int = 1000
    logit_mean: float = 0.0
    logit_std: float = 1.0
    weight_cap: float | None = None
    sigmas: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.shift > 0:
            raise ValueError(f"shift must be > 0. Got {self.shift}.")
        if not callable(self.weighting) and self.weighting not in FLOW_WEIGHTINGS:
            raise ValueError(f"weighting must be one of {FLOW_WEIGHTINGS} or a callable. Got {self.weighting!r}.")
        if self.num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps must be >= 2. Got {self.num_train_timesteps}.")
        if not self.logit_std > 0:
            raise ValueError(f"logit_std must be > 0. Got {self.logit_std}.")
        if self.weight_cap is not None and not self.weight_cap > 0:
            raise ValueError(f"weight_cap must be > 0 or None. Got {self.weight_cap}.")
        n = self.num_train_timesteps
        # float32 like diffusers, so sigma * N reproduces its timesteps bit for bit
        base = torch.linspace(1, n, n, dtype=torch.float32).flip(0) / n
        self.sigmas = self.shift * base / (1 + (self.shift - 1) * base)

    @property
    def timesteps(self) -> torch.Tensor:
        """The model timesteps of the grid, descending (sigma * N), as in the diffusers scheduler."""
        return self.sigmas * self.num_train_timesteps

    def sample_indices(self, b: int, generator=None, device=None) -> torch.Tensor:
        """B grid indices: uniform, or logit-normal u mapped to int(u * N) (index 0 is sigma = 1)."""
        n = self.num_train_timesteps
        if self.weighting == "logit_normal":
            z = torch.randn(b, generator=generator, device=device) * self.logit_std + self.logit_mean
            return (torch.sigmoid(z) * n).long().clamp_(0, n - 1)
        return torch.randint(0, n, (b,), generator=generator, device=device)

    def weights(self, idx: torch.Tensor) -> torch.Tensor:
        """w_t of eq. 5 for grid indices ``idx``, clamped to ``weight_cap``."""
        w = self._raw_weights(idx)
        return w if self.weight_cap is None else w.clamp(max=self.weight_cap)

    def _raw_weights(self, idx: torch.Tensor) -> torch.Tensor:
        sigma = self.sigmas.to(idx.device)[idx]
        if callable(self.weighting):
            return self.weighting(sigma).float()
        if self.weighting == "sigma_sqrt":
            return sigma.pow(-2.0)
        if self.weighting == "eps_equivalent":
            return (1 - sigma).pow(2)
        if self.weighting == "cosmap":
            return 2.0 / (math.pi * (1 - 2 * sigma + 2 * sigma**2))
        if self.weighting == "bsmntw":
            y = torch.exp(-2 * ((self.timesteps - self.num_train_timesteps / 2) / self.num_train_timesteps) ** 2)
            y = y - y.min()
            return (y * self.num_train_timesteps / y.sum()).to(idx.device)[idx]
        return torch.ones_like(sigma)

    def noise(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> Noised:
        """Independent noise and timestep per sample (SFT and plain training)."""
        noise = _randn_like(x0, generator)
        idx = self.sample_indices(x0.shape[0], generator, x0.device)
        return self._apply(x0, noise, idx)

    def noise_pair(self, x0_w: torch.Tensor, x0_l: torch.Tensor, generator: torch.Generator | None = None) -> Noised:
        """Shared noise and timestep for winner and loser; outputs are (2B, ...) in [chosen; rejected] order."""
        _check_pair(x0_w, x0_l)
        noise = _randn_like(x0_w, generator)
        idx = self.sample_indices(x0_w.shape[0], generator, x0_w.device)
        return self.noise_pair_with(x0_w, x0_l, noise, idx)

    def noise_pair_with(self, x0_w, x0_l, noise: torch.Tensor, idx: torch.Tensor) -> Noised:
        """``noise_pair`` with given noise (B, ...) and grid indices (B,) (precomputed reference draws)."""
        out = self._apply(torch.cat([x0_w, x0_l]), torch.cat([noise, noise]), torch.cat([idx, idx]))
        out.weight = out.weight[: x0_w.shape[0]]
        return out

    def _apply(self, x0: torch.Tensor, noise: torch.Tensor, idx: torch.Tensor) -> Noised:
        sigma = self.sigmas.to(x0.device)[idx]
        s = _per_sample(sigma, x0)
        x_t = (1 - s) * x0 + s * noise
        return Noised(x_t, sigma * self.num_train_timesteps, noise - x0, self.weights(idx))


@dataclass
class EpsilonObjective:
    """DDPM noising for epsilon- or v-prediction models, uniform integer timesteps.

    num_train_timesteps: N. beta_schedule / beta_start / beta_end: as in diffusers' DDPMScheduler (SD1.5 uses
    scaled_linear, 0.00085, 0.012). prediction_type: "epsilon" or "v_prediction".
    weighting: "none" or a callable mapping integer timesteps (B,) to w_t (B,).
    """

    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    prediction_type: str = "epsilon"
    weighting: str | Callable[[torch.Tensor], torch.Tensor] = "none"
    alphas_cumprod: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}. Got {self.beta_schedule!r}.")
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}. Got {self.prediction_type!r}.")
        if not callable(self.weighting) and self.weighting != "none":
            raise ValueError(f"weighting must be 'none' or a callable for DDPM. Got {self.weighting!r}.")
        if self.num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps must be >= 2. Got {self.num_train_timesteps}.")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start < beta_end < 1. Got {self.beta_start}, {self.beta_end}.")
        self.alphas_cumprod = torch.cumprod(1.0 - self._betas(), dim=0)

    def _betas(self) -> torch.Tensor:
        n = self.num_train_timesteps
        if self.beta_schedule == "linear":
            return torch.linspace(self.beta_start, self.beta_end, n, dtype=torch.float32)
        if self.beta_schedule == "scaled_linear":
            return torch.linspace(self.beta_start**0.5, self.beta_end**0.5, n, dtype=torch.float32) ** 2
        # Glide cosine schedule, betas capped at 0.999
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)], dtype=torch.float32)

    def noise(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> Noised:
        """Independent noise and timestep per sample (SFT and plain training)."""
        noise = _randn_like(x0, generator)
        t = torch.randint(0, self.num_train_timesteps, (x0.shape[0],), generator=generator, device=x0.device)
        return self._apply(x0, noise, t)

    def noise_pair(self, x0_w: torch.Tensor, x0_l: torch.Tensor, generator: torch.Generator | None = None) -> Noised:
        """Shared noise and timestep for winner and loser; outputs are (2B, ...) in [chosen; rejected] order."""
        _check_pair(x0_w, x0_l)
        noise = _randn_like(x0_w, generator)
        t = self.sample_indices(x0_w.shape[0], generator, x0_w.device)
        return self.noise_pair_with(x0_w, x0_l, noise, t)

    def sample_indices(self, b: int, generator=None, device=None) -> torch.Tensor:
        """B uniform integer timesteps."""
        return torch.randint(0, self.num_train_timesteps, (b,), generator=generator, device=device)

    def noise_pair_with(self, x0_w, x0_l, noise: torch.Tensor, t: torch.Tensor) -> Noised:
        """``noise_pair`` with given noise (B, ...) and timesteps (B,) (precomputed reference draws)."""
        out = self._apply(torch.cat([x0_w, x0_l]), torch.cat([noise, noise]), torch.cat([t, t]))
        out.weight = out.weight[: x0_w.shape[0]]
        return out

    def _apply(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> Noised:
        a = self.alphas_cumprod.to(x0.device)[t]
        sa, s1a = _per_sample(a.sqrt(), x0), _per_sample((1 - a).sqrt(), x0)
        x_t = sa * x0 + s1a * noise
        target = noise if self.prediction_type == "epsilon" else sa * noise - s1a * x0
        w = torch.ones(t.shape, device=x0.device) if self.weighting == "none" else self.weighting(t).float()
        return Noised(x_t, t, target, w)
