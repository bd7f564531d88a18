"""Reference errors computed once per (pair, draw), so a DPO step needs only the policy's forward.

TRL's ``precompute_ref_log_probs`` idea, for diffusion: the reference term of eq. 5 is the reference model's error
on one (noise, t) draw of a pair. Each pair gets ``draws`` fixed draws, each from its own seed
(:func:`draw`), and the reference errors on them are computed once and stored in a table (N pairs, draws, 2)
[winner, loser]. A training step picks one draw per pair at random (from the checkpointed noise generator),
rebuilds its noise from the seed and runs only the policy. Runs that differ only in beta, the loss type, label
smoothing or the learning rate share the table (it is keyed by the reference model, the noising settings and the
pairs), which makes a beta sweep cost one reference pass instead of one per step of every run.

The price: each pair is seen with ``draws`` noise draws instead of a fresh one per visit. Layout of the file:
``<cache_dir>/reference/<key>.safetensors`` = {"errors": (N, draws, 2)} with the key's inputs in its metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from trainer.losses import per_sample_mse


def draw_seed(seed: int, index: int, k: int) -> int:
    """The seed of draw k of pair ``index`` (distinct per pair and draw, fixed across runs with the same seed)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}:{k}".encode()).digest()[:8], "little") >> 1


def draw(objective, shape: tuple[int, ...], index: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noise of ``shape``, timestep index (1,)) of draw k of pair ``index``, on the CPU."""
    g = torch.Generator().manual_seed(draw_seed(seed, index, k))
    noise = torch.randn(shape, generator=g)
    return noise, objective.sample_indices(1, g)


def noised_draws(objective, batch: dict, ks: torch.Tensor, seed: int):
    """The pairs of ``batch`` noised with draw ``ks[b]`` of each pair: a ``Noised`` in [chosen; rejected] order."""
    x0_w, x0_l = batch["latents_w"], batch["latents_l"]
    draws = [draw(objective, tuple(x0_w.shape[1:]), int(i), int(k), seed) for i, k in zip(batch["index"], ks)]
    noise = torch.stack([d[0] for d in draws]).to(x0_w.device, x0_w.dtype)
    idx = torch.cat([d[1] for d in draws]).to(x0_w.device)
    return objective.noise_pair_with(x0_w, x0_l, noise, idx)


def table_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:40]


def compute_table(model, denoiser, objective, dataset, collate_fn, draws: int, seed: int, device,
                  batch_size: int = 1) -> torch.Tensor:
    """(N, draws, 2) reference errors [winner, loser] of every pair and draw, under ``no_grad``."""
    table = torch.zeros(len(dataset), draws, 2)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            batch = _to(collate_fn(items), device)
            cond = {k: torch.cat([v, v]) for k, v in batch["cond"].items()}  # batch is [chosen, rejected]
            for k in range(draws):
                ks = torch.full((len(items),), k)
                noised = noised_draws(objective, batch, ks, seed)
                err = per_sample_mse(denoiser(model, noised.x_t, noised.timesteps, cond), noised.target)
                err_w, err_l = err.chunk(2)  # batch is [chosen, rejected]
                table[batch["index"].cpu(), k] = torch.stack([err_w, err_l], dim=1).float().cpu()
    model.train(was_training)
    return table


def load_or_compute(path: Path, settings: dict, compute) -> tuple[torch.Tensor, bool]:
    """The table stored at ``path`` when its settings match, else ``compute()`` saved there; (table, computed)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from storage.atomic import atomic_write

    meta = {"settings": json.dumps(settings, sort_keys=True)}
    if path.is_file():
        with safe_open(str(path), "pt") as f:
            if f.metadata() == meta:
                return f.get_tensor("errors"), False
    table = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: save_file({"errors": table.contiguous()}, str(p), metadata=meta))
    return table, True


def _to(batch, device):
    if torch.is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch
