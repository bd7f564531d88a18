"""Resumable checkpoints, all tensors in safetensors (no pickle): trained weights, AdamW state, RNGs, data position.

Layout of ``<output_dir>/checkpoints/step-000500/``::

    model.safetensors          trainable weights by parameter name (the LoRA layers, or every weight)
    optimizer.safetensors      per-parameter AdamW tensors; param_groups as JSON in the file's metadata
    rng-rank<r>.safetensors    torch CPU/CUDA RNG and the noise generator of process r
    trainer_state.json         step, data position, scheduler state, Python/NumPy RNG, the config

A checkpoint is written into ``step-N.tmp`` and renamed when complete, so an interrupted save leaves no
half-checkpoint that ``--resume`` could pick up.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from trainer.batch_sampler import DataPosition

STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    """The scalars a resumed run needs besides the tensors."""

    global_step: int
    position: DataPosition
    scheduler: dict[str, Any]
    config: dict[str, Any]
    world_size: int


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return Path(output_dir) / "checkpoints" / f"step-{step:06d}"


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    root = Path(output_dir) / "checkpoints"
    done = [p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp") and (p / STATE_FILE).exists()]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def save_shared(tmp: Path, weights: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                state: TrainerState) -> None:
    """Write what every process holds identically (main process only) into the temporary folder."""
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
    tensors, meta = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, str(tmp / "optimizer.safetensors"), metadata={"optimizer": json.dumps(meta)})
    payload = {
        "global_step": state.global_step,
        "position": {"epoch": state.position.epoch, "batch": state.position.batch},
        "scheduler": state.scheduler,
        "config": state.config,
        "world_size": state.world_size,
        "python_random": _py_state(),
        "numpy_random": _np_state(),
    }
    (tmp / STATE_FILE).write_text(json.dumps(payload, indent=1))


def save_rng(tmp: Path, rank: int, generator: torch.Generator) -> None:
    """Each process writes its own RNG states (noise differs per process)."""
    tmp.mkdir(parents=True, exist_ok=True)
    tensors = {"torch_cpu": torch.get_rng_state(), "noise": generator.get_state()}
    if torch.cuda.is_available():
        tensors["torch_cuda"] = torch.cuda.get_rng_state()
    save_file(tensors, str(tmp / f"rng-rank{rank}.safetensors"))


def finalize(tmp: Path, final: Path, keep: int) -> None:
    """Rename the complete temporary folder into place and prune old checkpoints (main process only)."""
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    if keep:
        done = sorted((p for p in final.parent.glob("step-*") if not p.name.endswith(".tmp")),
                      key=lambda p: int(p.name.split("-")[1]))
        for old in done[:-keep]:
            shutil.rmtree(old)


def load(path: Path, rank: int, optimizer: torch.optim.Optimizer, generator: torch.Generator
         ) -> tuple[dict[str, torch.Tensor], TrainerState]:
    """Restore the optimizer and this process's RNGs; return the weights and the scalar state."""
    path = Path(path)
    raw = json.loads((path / STATE_FILE).read_text())
    weights = load_file(str(path / "model.safetensors"))
    with safe_open(str(path / "optimizer.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["optimizer"])
    optimizer.load_state_dict(_unflatten_optimizer(load_file(str(path / "optimizer.safetensors")), meta))
    rng_file = path / f"rng-rank{rank}.safetensors"
    if not rng_file.exists():
        raise ValueError(f"{path} has no RNG state for process {rank}; resume with the same number of processes "
                         f"({raw['world_size']}).")
    rng = load_file(str(rng_file))
    torch.set_rng_state(rng["torch_cpu"])
    generator.set_state(rng["noise"])
    if "torch_cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["torch_cuda"])
    random.setstate(_py_restore(raw["python_random"]))
    np.random.set_state(_np_restore(raw["numpy_random"]))
    state = TrainerState(global_step=raw["global_step"], position=DataPosition(**raw["position"]),
                         scheduler=raw["scheduler"], config=raw["config"], world_size=raw["world_size"])
    return weights, state


def _flatten_optimizer(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for idx, per_param in sd["state"].items():
        for key, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def _py_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _py_restore(raw: list) -> tuple:
    return (raw[0], tuple(raw[1]), raw[2])


def _np_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _np_restore(raw: dict) -> tuple:
    return (raw["name"], np.array(raw["keys"], dtype=np.uint32), raw["pos"], raw["has_gauss"], raw["cached"])
