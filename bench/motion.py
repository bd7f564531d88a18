"""Benchmark: the audio-conditioned model against the plain one, and precomputed against live reference errors.

Two comparisons, each side by side in one run through the trainer's own ``compute_loss``:

* ``conditioned`` / ``plain``: one LoRA SFT step (2 videos) of the Wan model with the motion module attached
  (eq. 6-8: audio C_audio (T, 5, d_a) -> 4 x 5 = 20 tokens per latent frame, one per-frame cross-attention per
  block) against the same step of the plain model, same shapes. Target <= 1.15x at the Wan2.1-1.3B shape (GPU).
* ``dpo_live`` / ``dpo_precomputed``: one LoRA DPO step (1 pair) with the reference forward against the same step
  reading precomputed reference errors (``trainer.reference_errors``; the table is built before timing).
  Target: precomputed >= 1.25x faster (floor: a DPO step is ~4 forward-equivalents, without the reference ~3).

CPU: every variant of a size in one process, one step of each in turn (load from other jobs hits all alike),
1 torch thread, process CPU time; peak memory per variant in its own process (peak-RSS growth, mmap threshold
64 KiB as in bench/train_step.py). GPU (``--wan-1.3b``): Wan2.1-1.3B shape, 81 frames at 480x832, bf16 autocast,
gradient checkpointing, wall time after synchronize, ``max_memory_allocated``.

    python bench/motion.py                       # tiny and small on CPU
    python bench/motion.py --wan-1.3b            # needs CUDA

Prints a table and writes bench/results/motion.json (``--wan-1.3b``: motion_wan1.3b.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_step import MODELS, _peak_rss_mib, _rss_mib, _stats, _sync, _threads

AUDIO = {"tiny": (9, 5, 64), "small": (17, 5, 64), "wan1.3b": (81, 5, 12 * 768)}  # C_audio per video: T, 2w+1, d_a
VARIANTS = {"plain": "sft", "conditioned": "sft", "dpo_live": "dpo", "dpo_precomputed": "dpo"}
RATIOS = [("conditioned", "plain", 1.15, "<="), ("dpo_live", "dpo_precomputed", 1.25, ">=")]


def build(size: str, variant: str, device: str):
    """One optimizer step of a variant as a function, and facts about it."""
    import torch
    from diffusers import WanTransformer3DModel

    from trainer.dpo_config import DiffusionDPOConfig
    from trainer.models import make_denoiser
    from trainer.motion.attach import attach_motion
    from trainer.motion.config import MotionConfig
    from trainer.reference_errors import compute_table
    from trainer.step import compute_loss, make_objective
    from trainer.trainable import build_policy

    spec, big, dev = MODELS[size], size == "wan1.3b", torch.device(device)
    cfg = DiffusionDPOConfig(mode=VARIANTS[variant], reference="lora", beta=2500.0, learning_rate=1e-5,
                             mixed_precision="bf16" if big else "no", gradient_checkpointing=big, shift=5.0,
                             audio_dropout=0.0, precompute_reference=variant == "dpo_precomputed")
    torch.manual_seed(0)
    with dev:
        model = WanTransformer3DModel(**spec["config"])
    if variant != "plain":  # the DPO pair also runs the conditioned model
        attach_motion(model, MotionConfig(audio_dim=AUDIO[size][2]), "wan")
    data = _Data(spec, AUDIO[size], n=2 if cfg.mode == "sft" else 1, audio=variant != "plain")
    denoiser, objective = make_denoiser("wan"), make_objective(cfg)
    table = compute_table(model, denoiser, objective, data, _collate, 4, 0, dev) if cfg.precompute_reference else None
    policy = build_policy(model, cfg)
    params = policy.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    batch = _to(_collate([data[i] for i in range(len(data))]), dev)
    gen = torch.Generator(device=dev).manual_seed(0)

    def step():
        _sync(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        loss, _ = compute_loss(cfg, policy, model, model, denoiser, objective, batch, gen, table)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(dev)
        return time.perf_counter() - t0, time.process_time() - c0

    motion = sum(p.numel() for n, p in model.named_parameters() if "motion" in n and "lora_" not in n)
    return step, {"size": size, "variant": variant, "mode": cfg.mode, "params_motion": motion,
                  "params_trainable": sum(p.numel() for p in params)}


class _Data:
    """``n`` items of the pair contract with random latents, text and (optionally) C_audio."""

    def __init__(self, spec, audio_shape, n: int, audio: bool):
        import torch

        g = torch.Generator().manual_seed(1)
        self.items = []
        for i in range(n):
            cond = {"encoder_hidden_states": torch.randn(*spec["text"], generator=g) * 0.1}
            if audio:
                cond["audio_embeds"] = torch.randn(*audio_shape, generator=g)
            self.items.append({"latents_w": torch.randn(*spec["latents"], generator=g),
                               "latents_l": torch.randn(*spec["latents"], generator=g), "cond": cond,
                               "pair_id": f"p{i}", "index": i})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _collate(items):
    import torch

    return {"latents_w": torch.stack([it["latents_w"] for it in items]),
            "latents_l": torch.stack([it["latents_l"] for it in items]),
            "cond": {k: torch.stack([it["cond"][k] for it in items]) for k in items[0]["cond"]},
            "pair_id": [it["pair_id"] for it in items], "index": torch.tensor([it["index"] for it in items])}


def _to(batch, dev):
    if hasattr(batch, "to"):
        return batch.to(dev)
    return {k: _to(v, dev) for k, v in batch.items()} if isinstance(batch, dict) else batch


def run_memory(size, variant, steps, warmup, device, threads):
    import diffusers  # noqa: F401
    import peft  # noqa: F401
    import torch

    import trainer.step  # noqa: F401

    _threads(threads)
    base = _rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step, info = build(size, variant, device)
    times = [step() for _ in range(warmup + steps)][warmup:]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mib() - base
    return {**info, "peak_mib": peak, **_stats(times)}


def run_timing(size, steps, warmup, device, threads):
    _threads(threads)
    built = {v: build(size, v, device)[0] for v in VARIANTS}
    times = {v: [] for v in VARIANTS}
    for i in range(warmup + steps):
        for v, step in built.items():
            t = step()
            if i >= warmup:
                times[v].append(t)
    return {v: _stats(t) for v, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--wan-1.3b", dest="wan13", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        print("RESULT " + json.dumps({"memory": run_memory, "timing": run_timing}[job.pop("kind")](**job)))
        return
    import torch

    if args.wan13 and not torch.cuda.is_available():
        raise SystemExit("--wan-1.3b needs a CUDA GPU; torch sees none here.")
    sizes = ["wan1.3b"] if args.wan13 else [s for s in args.sizes.split(",") if s]
    device = "cuda" if args.wan13 else "cpu"
    rows, summary = [], []
    for size in sizes:
        common = dict(size=size, device=device, threads=args.threads)
        timing = {} if device == "cuda" else _child(dict(kind="timing", steps=args.steps, warmup=args.warmup,
                                                         **common))
        by = {}
        for v in VARIANTS:
            row = _child(dict(kind="memory", variant=v, steps=args.steps if device == "cuda" else 2,
                              warmup=args.warmup if device == "cuda" else 1, **common))
            row.update(timing.get(v, {}))
            rows.append(row)
            by[v] = row
        key = "step_ms" if device == "cuda" else "cpu_ms"
        for a, b, target, op in RATIOS:
            ratio = by[a][key] / by[b][key]
            summary.append({"size": size, "ratio": f"{a} / {b}", "time": ratio, "wall": by[a]["step_ms"] /
                            by[b]["step_ms"], "memory": by[a]["peak_mib"] / max(by[b]["peak_mib"], 1e-9),
                            "target": f"{op} {target}", "ok": ratio <= target if op == "<=" else ratio >= target})
    _print(rows, summary)
    out = ROOT / "bench" / "results" / ("motion_wan1.3b.json" if args.wan13 else "motion.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python " + " ".join(sys.argv), "machine": platform.platform(), "torch": torch.__version__,
            "threads": args.threads, "steps": args.steps, "warmup": args.warmup, "device": device}
    out.write_text(json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


def _print(rows, summary):
    print(f"\n{'size':8} {'variant':16} {'wall ms':>9} {'CPU ms':>8} {'peak MiB':>9} {'motion params':>13} "
          f"{'trainable':>10}")
    for r in rows:
        print(f"{r['size']:8} {r['variant']:16} {r['step_ms']:>9.1f} {r['cpu_ms']:>8.1f} {r['peak_mib']:>9.1f} "
              f"{r['params_motion']:>13,} {r['params_trainable']:>10,}")
    print(f"\n{'size':8} {'ratio':32} {'time':>6} {'wall':>6} {'memory':>7} {'target':>8} {'ok':>4}")
    for s in summary:
        print(f"{s['size']:8} {s['ratio']:32} {s['time']:>6.2f} {s['wall']:>6.2f} {s['memory']:>7.2f} "
              f"{s['target']:>8} {'yes' if s['ok'] else 'NO':>4}")


def _child(job):
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"} if job["kind"] == "memory" else None
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{job} failed:\n{proc.stderr[-4000:]}")


if __name__ == "__main__":
    main()
