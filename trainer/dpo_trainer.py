"""The training loop: accelerate, gradient accumulation, AdamW with linear warm-up, checkpoints, logging.

``train(cfg, dataset, collate_fn)`` fine-tunes ``cfg.denoiser_path`` on a dataset that yields the contract's pair
items (``trainer.data.PairDataset``). Steps are optimizer steps; each takes ``gradient_accumulation_steps``
micro-batches of ``batch_size / (processes * accumulation)`` pairs per process. The loss of one micro-batch is
``trainer.step.compute_loss``; the maths is in ``trainer.losses``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from trainer import checkpoint
from trainer.batch_sampler import DataPosition, ShardedBatchSampler
from trainer.dpo_config import DiffusionDPOConfig
from trainer.logging_utils import MetricLogger, MetricWindow
from trainer.models import load_denoiser, load_trained, make_denoiser, save_trained
from trainer.step import compute_loss, make_objective
from trainer.trainable import build_policy, load_trainable_state_dict, trainable_state_dict

log = logging.getLogger("trainer")

# keys that may change between an interrupted run and its resumption without changing what was trained so far
RESUMABLE_CHANGES = {"max_steps", "log_every", "checkpoint_every", "keep_checkpoints", "num_workers", "output_dir",
                     "cache_dir", "denoiser_path", "vae_path"}


@dataclass
class TrainResult:
    """What a run did: the last step, where the trained model is, the logged rows (main process), the model."""

    global_step: int
    output_dir: Path
    final_dir: Path | None
    history: list[dict] = field(default_factory=list)
    model: torch.nn.Module | None = None  # the trained policy, unwrapped (with its LoRA adapter, if any)


def warmup_factor(warmup_steps: int):
    """LR multiplier for optimizer step s (0-based): (s + 1) / warmup during warm-up, then 1.

    Unlike a schedule that starts at 0, the first step already moves the weights.
    """
    def factor(step: int) -> float:
        return 1.0 if warmup_steps == 0 else min(1.0, (step + 1) / warmup_steps)

    return factor


def train(cfg: DiffusionDPOConfig, dataset, collate_fn, *, resume: bool = False, stop_after: int | None = None,
          progress: bool = True, label: str = "train-dpo") -> TrainResult:
    """Train; with ``resume`` continue from the newest checkpoint in ``cfg.output_dir`` exactly where it stopped.

    Args:
        dataset, collate_fn: items and collation of the contract's batch dict (``trainer.data``).
        stop_after: stop after this global step without a final save (time-boxed jobs; tests use it to simulate
            an interruption).
        progress: show a tqdm bar on the main process.
        label: the bar's name (the command that runs).
    """
    from accelerate import Accelerator

    # bf16 autocast is ours (GPU only, trainer.step.autocast_for). cpu=True without CUDA makes torchrun-style
    # launches (`accelerate launch --multi_gpu`, torchrun) form a gloo process group instead of N lone processes.
    acc = Accelerator(mixed_precision="no", cpu=not torch.cuda.is_available())
    out = Path(cfg.output_dir)
    micro = _micro_batch(cfg, acc.num_processes)
    _seed_everything(cfg.seed)
    model = _on_device(_load_model(cfg, dataset), acc.device)
    ref_errors = _reference_table(cfg, acc, model, dataset, collate_fn, progress) \
        if cfg.mode == "dpo" and cfg.precompute_reference else None
    policy = build_policy(model, cfg)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                  betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(cfg.warmup_steps))
    generator = torch.Generator(device=acc.device).manual_seed(cfg.seed * 7919 + acc.process_index + 1)
    step, position = _restore(cfg, acc, resume, model, optimizer, scheduler, generator)
    wrapped, optimizer = acc.prepare(model, optimizer)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        _truncate_metrics(out / "logs" / "metrics.jsonl", step)
    sampler = ShardedBatchSampler(len(dataset), micro, rank=acc.process_index, world_size=acc.num_processes,
                                  seed=cfg.seed, start=position)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_fn,
                                         num_workers=cfg.num_workers)
    loop = _Loop(cfg, acc, policy, wrapped, model, optimizer, scheduler, generator, sampler, out)
    loop.ref_errors = ref_errors
    history = loop.run(iter(loader), step, stop_after, progress, label)
    final_dir = None
    if loop.step >= cfg.max_steps:
        final_dir = out / "final"
        if acc.is_main_process:
            save_trained(model, final_dir, policy.lora, policy.phase)
            (final_dir / "dpo_config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    acc.wait_for_everyone()
    return TrainResult(global_step=loop.step, output_dir=out, final_dir=final_dir, history=history, model=model)


class _Loop:
    """The optimizer-step loop; state that checkpoints need lives here."""

    def __init__(self, cfg, acc, policy, wrapped, model, optimizer, scheduler, generator, sampler, out):
        self.cfg, self.acc, self.policy, self.wrapped, self.model = cfg, acc, policy, wrapped, model
        self.optimizer, self.scheduler, self.generator, self.sampler, self.out = (optimizer, scheduler, generator,
                                                                                  sampler, out)
        self.denoiser, self.objective = make_denoiser(cfg.model_kind, cfg.reference_image), make_objective(cfg)
        self.logger = MetricLogger(out / "logs", enabled=acc.is_main_process)
        self.step, self.micro_done = 0, 0
        self.ref_errors = None  # precomputed reference errors (N, draws, 2), or None: live reference

    def run(self, batches, start_step: int, stop_after: int | None, progress: bool, label: str = "train-dpo"
            ) -> list[dict]:
        from tqdm.auto import tqdm

        cfg, self.step = self.cfg, start_step
        target = cfg.max_steps if stop_after is None else min(cfg.max_steps, stop_after)
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=label, unit="step",
                   disable=not (progress and self.acc.is_main_process))
        window, history = MetricWindow(), []
        try:
            while self.step < target:
                t0 = time.perf_counter()
                lr = self.scheduler.get_last_lr()[0]
                grad_norm = self._optimizer_step(batches, window)
                self.step += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == target:
                    row = self._reduce(window, {"lr": lr, "grad_norm": grad_norm,
                                                "step_seconds": time.perf_counter() - t0})
                    window.clear()
                    if self.acc.is_main_process:
                        history.append({"step": self.step, **row})
                        bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
                        self.logger.log(self.step, row, write=tqdm.write)  # prints with or without a bar
                if self.step == cfg.max_steps or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0):
                    self._save_checkpoint()
        finally:
            bar.close()
            self.logger.close()
        return history

    def _optimizer_step(self, batches, window: MetricWindow) -> float:
        cfg, acc = self.cfg, self.acc
        accum = cfg.gradient_accumulation_steps
        for i in range(accum):
            batch = _to_device(next(batches), acc.device)
            # gradients are all-reduced only on the last micro-step of the accumulation
            sync = contextlib.nullcontext() if i == accum - 1 else acc.no_sync(self.wrapped)
            with sync:
                loss, metrics = compute_loss(cfg, self.policy, self.wrapped, self.model, self.denoiser,
                                             self.objective, batch, self.generator, self.ref_errors)
                acc.backward(loss / accum)
            window.add(metrics)
            self.micro_done += 1
        params = self.policy.trainable_parameters()
        if cfg.max_grad_norm:
            norm = acc.clip_grad_norm_(params, cfg.max_grad_norm)
        else:
            norms = [p.grad.norm() for p in params if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def _reduce(self, window: MetricWindow, extra: dict[str, float]) -> dict[str, float]:
        means = window.means()
        keys = sorted(means)
        values = torch.tensor([means[k] for k in keys], dtype=torch.float64, device=self.acc.device)
        if self.acc.num_processes > 1:
            values = self.acc.reduce(values, reduction="mean")
        return {**dict(zip(keys, values.tolist())), **extra}

    def _save_checkpoint(self) -> None:
        acc = self.acc
        final = checkpoint.checkpoint_dir(self.out, self.step)
        tmp = final.with_name(final.name + ".tmp")
        acc.wait_for_everyone()
        if acc.is_main_process:
            state = checkpoint.TrainerState(global_step=self.step, position=self.sampler.position_after(self.micro_done),
                                            scheduler=self.scheduler.state_dict(), config=self.cfg.to_dict(),
                                            world_size=acc.num_processes)
            checkpoint.save_shared(tmp, trainable_state_dict(self.model), self.optimizer, state)
        acc.wait_for_everyone()
        checkpoint.save_rng(tmp, acc.process_index, self.generator)
        acc.wait_for_everyone()
        if acc.is_main_process:
            checkpoint.finalize(tmp, final, self.cfg.keep_checkpoints)
        acc.wait_for_everyone()


def _restore(cfg, acc, resume: bool, model, optimizer, scheduler, generator) -> tuple[int, DataPosition]:
    """With ``resume``, load the newest checkpoint into everything that carries state; return (step, position)."""
    out = Path(cfg.output_dir)
    ckpt = checkpoint.latest_checkpoint(out)
    if not resume:
        if ckpt is not None:
            raise ValueError(f"{out} already holds checkpoints: pass --resume to continue that run, "
                             "or a new output dir.")
        return 0, DataPosition()
    if ckpt is None:
        log.warning("--resume: no checkpoint in %s; starting from scratch", out / "checkpoints")
        return 0, DataPosition()
    weights, state = checkpoint.load(ckpt, acc.process_index, optimizer, generator)
    _check_resumable(cfg, state, acc.num_processes, ckpt)
    load_trainable_state_dict(model, weights)
    scheduler.load_state_dict(state.scheduler)
    log.info("resuming from %s (step %d)", ckpt, state.global_step)
    return state.global_step, state.position


def _load_model(cfg: DiffusionDPOConfig, dataset) -> torch.nn.Module:
    """The denoiser to train: the base, or a finished run's model with ``init_from`` (paper sec. 3.2: pi_ref is the
    SFT model, so policy and reference both start there), plus a fresh motion module when the data has motion
    inputs and the model none (drawn after seeding; its output projections start at zero)."""
    from trainer.motion.attach import attach_motion, has_motion
    from trainer.motion.config import motion_config_for

    if cfg.init_from:
        model = load_trained(cfg.model_kind, cfg.denoiser_path, Path(cfg.init_from) / "final")
        if getattr(model, "peft_config", None):
            # the SFT LoRA becomes part of the starting weights: the DPO adapter is the only one toggled off
            model.fuse_lora()
            model.unload_lora()
    else:
        model = load_denoiser(cfg.model_kind, cfg.denoiser_path)
    if not has_motion(model):
        motion_cfg = motion_config_for(cfg, dataset[0])
        if motion_cfg is not None:
            attach_motion(model, motion_cfg, cfg.model_kind)
    return model


def _reference_table(cfg: DiffusionDPOConfig, acc, model, dataset, collate_fn, progress: bool) -> torch.Tensor:
    """The precomputed reference errors (``trainer.reference_errors``): computed by the main process from the
    model as it starts (= the reference), stored under the cache folder, reused by every run with the same
    reference, noising settings and pairs."""
    from trainer.encoders import fingerprint
    from trainer.reference_errors import compute_table, load_or_compute, table_key

    pair_ids = getattr(dataset, "pair_ids", None) or [dataset[i]["pair_id"] for i in range(len(dataset))]
    settings = {"model": fingerprint(model), "kind": cfg.model_kind, "shift": cfg.shift, "weighting": cfg.weighting,
                "timesteps": cfg.num_train_timesteps, "prediction": cfg.prediction_type,
                "reference_image": cfg.reference_image, "draws": cfg.reference_draws, "seed": cfg.seed,
                "pairs": _digest(pair_ids)}
    path = Path(cfg.cache_dir or cfg.output_dir) / "reference" / f"{table_key(settings)}.safetensors"
    compute = lambda: compute_table(model, make_denoiser(cfg.model_kind, cfg.reference_image), make_objective(cfg),
                                    dataset, collate_fn, cfg.reference_draws, cfg.seed, acc.device)
    if acc.is_main_process:
        _, computed = load_or_compute(path, settings, compute)
        log.info("reference errors %s %s", "computed into" if computed else "reused from", path)
    acc.wait_for_everyone()
    from safetensors.torch import load_file

    return load_file(str(path))["errors"]


def _digest(ids) -> str:
    import hashlib

    return hashlib.sha256("\n".join(map(str, ids)).encode()).hexdigest()[:40]


def _micro_batch(cfg: DiffusionDPOConfig, processes: int) -> int:
    per_step = processes * cfg.gradient_accumulation_steps
    if cfg.batch_size % per_step:
        raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of processes x gradient_accumulation_steps "
                         f"= {processes} x {cfg.gradient_accumulation_steps} = {per_step}.")
    return cfg.batch_size // per_step


def _check_resumable(cfg: DiffusionDPOConfig, state: checkpoint.TrainerState, processes: int, path: Path) -> None:
    if state.world_size != processes:
        raise ValueError(f"{path} was written by {state.world_size} process(es); resume with the same number "
                         f"(got {processes}), or the data order and noise would differ.")
    now = cfg.to_dict()
    changed = {k: (v, now.get(k)) for k, v in state.config.items() if k not in RESUMABLE_CHANGES and now.get(k) != v}
    if changed:
        diff = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
        raise ValueError(f"Cannot resume from {path}: the config changed ({diff}). Only {sorted(RESUMABLE_CHANGES)} "
                         "may change on --resume.")


def _on_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    # diffusers warns on any .to() of a Wan model, even a no-op one
    return model if next(model.parameters()).device == device else model.to(device)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _to_device(batch, device):
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop rows logged after the checkpoint: those steps are trained again."""
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        path.write_text("".join(r + "\n" for r in rows))
