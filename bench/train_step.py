"""Benchmark: one optimizer step of Diffusion-DPO against SFT, through the trainer's own code path.

Same number of videos per step for every variant: DPO takes B pairs (2B videos, one forward with grad plus one
no-grad reference forward over all 2B), SFT takes 2B winners (one forward and backward). Same trainable setup
side by side: LoRA DPO (reference = adapter off) against LoRA SFT, full DPO (frozen copy) against full SFT.
The floor: DPO adds one no-grad forward to SFT's forward + backward (~3 forward-equivalents), so ~4/3 of SFT.

Each variant runs in its own child process so peak memory is its own: on CPU the peak-RSS growth over the
process's RSS after imports (weights, reference copy, AdamW state, activations); on GPU
``torch.cuda.max_memory_allocated``.

    python bench/train_step.py                      # tiny and small Wan on CPU
    python bench/train_step.py --sizes tiny --steps 5
    python bench/train_step.py --wan-1.3b           # Wan2.1-1.3B shape, 480x832, 81 frames, bf16: needs CUDA

Targets: DPO step <= 1.5x SFT step; LoRA-reference DPO peak memory <= 1.1x LoRA SFT's. Prints a table and
writes JSON to bench/results/train_step.json (``--wan-1.3b``: train_step_wan1.3b.json), with model FLOPs
utilisation for the 1.3B run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Wan transformer shapes. tiny = diffusers' test config; small = a few hundred tokens; 1.3b = Wan2.1-T2V-1.3B.
MODELS = {
    "tiny": dict(config=dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                             out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
                             cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32),
                 latents=(16, 3, 8, 8), text=(8, 32)),
    "small": dict(config=dict(patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=32, in_channels=16,
                              out_channels=16, text_dim=64, freq_dim=256, ffn_dim=512, num_layers=4,
                              cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=64),
                  latents=(16, 5, 16, 16), text=(16, 64)),
    "wan1.3b": dict(config=dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                                out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30,
                                cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
                                rope_max_seq_len=1024),
                    # 81 frames at 480x832 through the Wan VAE: (1 + 80/4, 480/8, 832/8)
                    latents=(16, 21, 60, 104), text=(512, 4096)),
}
VARIANTS = {  # name -> (mode, reference)
    "dpo_lora": ("dpo", "lora"),
    "sft_lora": ("sft", "lora"),
    "dpo_frozen_copy": ("dpo", "frozen_copy"),
    "sft_full": ("sft", "frozen_copy"),
}
PAIRS = [("dpo_lora", "sft_lora"), ("dpo_frozen_copy", "sft_full")]
FLOOR = 4 / 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small", help="Comma-separated model sizes (tiny, small).")
    ap.add_argument("--pairs", type=int, default=1, help="B: pairs per DPO step (SFT gets 2B winners).")
    ap.add_argument("--steps", type=int, default=10, help="Timed optimizer steps per variant (median reported).")
    ap.add_argument("--warmup", type=int, default=3, help="Untimed steps first.")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads per variant (1 = steadier timings on a shared machine; 0 = torch's default).")
    ap.add_argument("--wan-1.3b", dest="wan13", action="store_true",
                    help="Wan2.1-1.3B-shaped model, 480x832, 81 frames, bf16, gradient checkpointing (CUDA only).")
    ap.add_argument("--peak-tflops", type=float, default=989.0,
                    help="Accelerator bf16 dense peak for MFU (H100/H200 SXM: 989).")
    ap.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/train_step*.json).")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        fn = {"memory": run_memory, "timing": run_timing}[job.pop("kind")]
        print("RESULT " + json.dumps(fn(**job)))
        return
    if args.wan13:
        _require_cuda()
        sizes, device = ["wan1.3b"], "cuda"
    else:
        sizes, device = [s.strip() for s in args.sizes.split(",") if s.strip()], "cpu"
    rows = []
    for size in sizes:
        common = dict(size=size, pairs=args.pairs, device=device, threads=args.threads)
        # CPU timings: every variant in one process, steps taken round-robin, so load from other processes on a
        # shared machine hits all variants alike. GPU: one process per variant (they would not fit together).
        timing = {} if device == "cuda" else _child(dict(kind="timing", steps=args.steps, warmup=args.warmup, **common))
        for variant in VARIANTS:
            steps = args.steps if device == "cuda" else 2
            row = _child(dict(kind="memory", variant=variant, steps=steps, warmup=args.warmup if device == "cuda"
                              else 1, **common))
            row.update(timing.get(variant, {}))
            row["device"] = device
            row["mfu"] = row["model_tflops_per_step"] * 1e12 / (row["step_ms"] / 1e3) / (args.peak_tflops * 1e12) \
                if device == "cuda" else None
            rows.append(row)
            print(f"  {size:8} {variant:16} {row['step_ms']:10.1f} ms  {row['peak_mib']:9.1f} MiB", flush=True)
    summary = _summarise(rows)
    _print(rows, summary)
    out = args.out or ROOT / "bench" / "results" / ("train_step_wan1.3b.json" if args.wan13 else "train_step.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python " + " ".join(sys.argv), "machine": platform.platform(), "python": sys.version.split()[0],
            "torch": _torch_version(), "threads": args.threads, "pairs": args.pairs, "steps": args.steps,
            "warmup": args.warmup, "device": device}
    out.write_text(json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=1))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def build_variant(size: str, variant: str, pairs: int, device: str):
    """The model, optimizer and batch of one variant; returns (one optimizer step as a function, info)."""
    import torch
    from diffusers import WanTransformer3DModel

    from trainer.dpo_config import DiffusionDPOConfig
    from trainer.models import make_denoiser
    from trainer.step import compute_loss, make_objective
    from trainer.trainable import build_policy

    spec, (mode, reference) = MODELS[size], VARIANTS[variant]
    big = size == "wan1.3b"
    cfg = DiffusionDPOConfig(mode=mode, reference=reference, beta=2500.0, learning_rate=1e-5, lora_rank=16,
                             lora_alpha=16.0, mixed_precision="bf16" if big else "no", gradient_checkpointing=big,
                             shift=5.0)
    dev = torch.device(device)
    torch.manual_seed(0)
    with dev:
        model = WanTransformer3DModel(**spec["config"])
    policy = build_policy(model, cfg)
    params = policy.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    denoiser, objective = make_denoiser("wan"), make_objective(cfg)
    batch = _batch(spec, pairs, mode, dev)
    gen = torch.Generator(device=dev).manual_seed(0)

    def step() -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) of one optimizer step."""
        _sync(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        loss, _ = compute_loss(cfg, policy, model, model, denoiser, objective, batch, gen)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(dev)
        return time.perf_counter() - t0, time.process_time() - c0

    info = {"size": size, "variant": variant, "mode": mode, "reference": reference, "videos_per_step": 2 * pairs,
            "params_total": sum(p.numel() for p in model.parameters()),
            "params_trainable": sum(p.numel() for p in params),
            "model_tflops_per_step": step_flops(spec, 2 * pairs, mode) / 1e12}
    return step, info


def run_memory(size: str, variant: str, pairs: int, steps: int, warmup: int, device: str, threads: int) -> dict:
    """One variant alone in this process: peak memory (and, on GPU, the step time)."""
    import diffusers  # noqa: F401
    import peft  # noqa: F401  (imported before the baseline so only the run's own memory is counted)
    import torch

    import trainer.step  # noqa: F401

    _threads(threads)
    base_rss = _rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step, info = build_variant(size, variant, pairs, device)
    times = [step() for _ in range(warmup + steps)][warmup:]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mib() - base_rss
    return {**info, "peak_mib": peak, **_stats(times)}


def run_timing(size: str, pairs: int, steps: int, warmup: int, device: str, threads: int) -> dict:
    """Every variant in this process, one step of each in turn; median and min step time per variant."""
    _threads(threads)
    built = {v: build_variant(size, v, pairs, device)[0] for v in VARIANTS}
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for i in range(warmup + steps):
        for v, step in built.items():
            t = step()
            if i >= warmup:
                times[v].append(t)
    return {v: _stats(t) for v, t in times.items()}


def _stats(times: list[tuple[float, float]]) -> dict:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return {"step_ms": statistics.median(wall) * 1e3, "step_ms_min": min(wall) * 1e3,
            "cpu_ms": statistics.median(cpu) * 1e3}


def step_flops(spec: dict, videos: int, mode: str) -> float:
    """Model FLOPs of one step (the MFU convention: checkpointing's recomputation is not counted).

    Per Wan block on S video tokens, L text tokens, width d, FFN width f (a multiply-add = 2 FLOPs):
    self-attention projections 8Sd^2, scores and values 4S^2d, cross-attention q/o 4Sd^2, k/v 4Ld^2,
    scores and values 4SLd, FFN 4Sdf. Training with grad costs 3 forwards; DPO's reference adds 1 more.
    """
    c = spec["config"]
    _, t, h, w = spec["latents"]
    s = t * (h // c["patch_size"][1]) * (w // c["patch_size"][2])
    L, d, f = spec["text"][0], c["num_attention_heads"] * c["attention_head_dim"], c["ffn_dim"]
    per_block = 8 * s * d * d + 4 * s * s * d + 4 * s * d * d + 4 * L * d * d + 4 * s * L * d + 4 * s * d * f
    forward = c["num_layers"] * per_block
    return forward * videos * (4 if mode == "dpo" else 3)


def _batch(spec: dict, pairs: int, mode: str, dev) -> dict:
    import torch

    g = torch.Generator().manual_seed(1)
    # SFT gets the 2B videos a DPO step sees, all as winners
    n = 2 * pairs if mode == "sft" else pairs
    lat = lambda: torch.randn(n, *spec["latents"], generator=g).to(dev)
    return {"latents_w": lat(), "latents_l": lat(),
            "cond": {"encoder_hidden_states": (torch.randn(n, *spec["text"], generator=g) * 0.1).to(dev)}}


def _summarise(rows: list[dict]) -> list[dict]:
    by = {(r["size"], r["variant"]): r for r in rows}
    out = []
    for size in dict.fromkeys(r["size"] for r in rows):
        for dpo, sft in PAIRS:
            a, b = by[(size, dpo)], by[(size, sft)]
            # on a shared CPU, process CPU time (1 thread) ignores time spent descheduled by other jobs' load;
            # on GPU the wall time is the measure
            key = "step_ms" if a.get("device") == "cuda" else "cpu_ms"
            time_ratio, mem_ratio = a[key] / b[key], a["peak_mib"] / max(b["peak_mib"], 1e-9)
            out.append({"size": size, "dpo": dpo, "sft": sft, "time_basis": key, "time_ratio": time_ratio,
                        "wall_ratio": a["step_ms"] / b["step_ms"], "floor": FLOOR,
                        "time_target": 1.5, "time_ok": time_ratio <= 1.5, "memory_ratio": mem_ratio,
                        "memory_target": 1.1 if dpo == "dpo_lora" else None,
                        "memory_ok": mem_ratio <= 1.1 if dpo == "dpo_lora" else None})
    return out


def _print(rows: list[dict], summary: list[dict]) -> None:
    print(f"\n{'size':8} {'variant':16} {'videos':>6} {'wall ms':>10} {'CPU ms':>8} {'peak MiB':>10} {'trainable':>11} "
          f"{'TFLOP/step':>10} {'MFU':>6}")
    for r in rows:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        print(f"{r['size']:8} {r['variant']:16} {r['videos_per_step']:>6} {r['step_ms']:>10.1f} {r['cpu_ms']:>8.1f} "
              f"{r['peak_mib']:>10.1f} "
              f"{r['params_trainable']:>11,} {r['model_tflops_per_step']:>10.4f} {mfu:>6}")
    print(f"\n{'size':8} {'DPO / SFT':30} {'time':>6} {'wall':>6} {'floor':>6} {'<=1.5':>6} {'memory':>7} {'<=1.1':>6}")
    for s in summary:
        mem_ok = "-" if s["memory_ok"] is None else ("yes" if s["memory_ok"] else "NO")
        print(f"{s['size']:8} {s['dpo'] + ' / ' + s['sft']:30} {s['time_ratio']:>6.2f} {s['wall_ratio']:>6.2f} "
              f"{s['floor']:>6.2f} "
              f"{'yes' if s['time_ok'] else 'NO':>6} {s['memory_ratio']:>7.2f} {mem_ok:>6}")


def _child(job: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    # glibc keeps freed heap pages, so peak RSS would remember transient buffers that live memory never held at
    # once; serving every allocation over 64 KiB by mmap (returned on free) makes peak RSS track live tensors.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"} if job["kind"] == "memory" else None
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"variant {job['variant']} ({job['size']}) failed:\n{proc.stderr[-4000:]}")


def _require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("--wan-1.3b needs a CUDA GPU (an H100 for the 40% MFU target); torch sees none here. "
                         "Run it on a GPU machine: python bench/train_step.py --wan-1.3b")


def _threads(n: int) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
