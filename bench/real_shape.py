"""Real-shape smoke: the documented chain on Wan2.1-1.3B-sized folders with random weights.

CPU (default): a Wan2.1-T2V-1.3B transformer (``--vace``: Wan2.1-VACE-1.3B, diffusers' WanVACETransformer3DModel)
and the Wan2.1 VAE are built with random weights and saved the way a user's folder is laid out
(``transformer/``, ``vae/``, save_pretrained); a one-pair manifest of real mp4s is written; then, each in its own
process (wall time and peak RSS of that process):

    build    the folders written (random init + save_pretrained)
    train    curate train-dpo --config wan_lora (LoRA), 1 optimizer step at --frames x --height x --width
    sample   curate sample --steps 1 on that run (one solver step, text CFG: 2 forwards, VAE decode)

``train-dpo`` cannot take a VACE folder until the ``hallo4`` model kind exists; with ``--vace`` the train row is
one LoRA DPO step through the trainer's own step (``trainer.step.compute_loss``) on the loaded folder instead, and
there is no sample row.

GPU (``--gpu``): one LoRA DPO step at 81 x 480 x 832 (latents 16 x 21 x 60 x 104, 512 text tokens), bf16 autocast,
gradient checkpointing: step time (median of ``--steps``), peak memory (``max_memory_allocated``) and MFU against
``--peak-tflops``. ``--gpu --tiny`` runs the same code on the tiny config, on the CPU when there is no GPU (the
test of this mode).

    python bench/real_shape.py                      # CPU, T2V-1.3B, 17 x 64 x 112
    python bench/real_shape.py --vace --frames 5    # CPU, VACE-1.3B
    python bench/real_shape.py --gpu                # GPU, VACE-1.3B at 81 x 480 x 832
    python bench/real_shape.py --gpu --tiny         # the GPU code path on a tiny model (CPU is fine)

Prints a table; writes JSON to bench/results/real_shape[_gpu][_tiny].json (``--out`` for another file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Wan2.1-T2V-1.3B's transformer config; VACE-1.3B adds a VACE block before every second block (15) on 96 channels
WAN_13B = {"patch_size": (1, 2, 2), "num_attention_heads": 12, "attention_head_dim": 128, "in_channels": 16,
           "out_channels": 16, "text_dim": 4096, "freq_dim": 256, "ffn_dim": 8960, "num_layers": 30,
           "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "rope_max_seq_len": 1024}
VACE_13B = {"vace_layers": list(range(0, 30, 2)), "vace_in_channels": 96}
TINY = {"patch_size": (1, 2, 2), "num_attention_heads": 2, "attention_head_dim": 12, "in_channels": 16,
        "out_channels": 16, "text_dim": 32, "freq_dim": 256, "ffn_dim": 32, "num_layers": 2, "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 32}
TINY_VACE = {"vace_layers": [0], "vace_in_channels": 48}
TINY_VAE = {"base_dim": 3, "z_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1,
            "temperal_downsample": [False, True, True]}
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # bf16 dense


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vace", action="store_true", help="Wan2.1-VACE-1.3B (WanVACETransformer3DModel).")
    ap.add_argument("--tiny", action="store_true", help="The tiny test config instead of 1.3B.")
    ap.add_argument("--gpu", action="store_true", help="Step time, peak memory and MFU at 81 x 480 x 832 bf16.")
    ap.add_argument("--frames", type=int, default=17, help="CPU: frames (4k+1).")
    ap.add_argument("--height", type=int, default=64, help="CPU: frame height (multiple of 16).")
    ap.add_argument("--width", type=int, default=112, help="CPU: frame width (multiple of 16).")
    ap.add_argument("--steps", type=int, default=3, help="GPU: timed steps (one more warms up).")
    ap.add_argument("--peak-tflops", type=float, help="Peak bf16 TFLOP/s for MFU (default: by GPU name).")
    ap.add_argument("--workdir", help="Keep the folders here (default: a temp folder, deleted).")
    ap.add_argument("--out", help="JSON file (default bench/results/real_shape[_gpu][_tiny].json).")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(json.dumps(_child(json.loads(args._child))))
        return
    rows = gpu_rows(args) if args.gpu else cpu_rows(args)
    result = {"host": platform.node(), "python": platform.python_version(), "torch": _torch_version(),
              "model": _model_name(args), "rows": rows, "args": {k: v for k, v in vars(args).items() if k != "_child"}}
    _print(result)
    suffix = ("_gpu" if args.gpu else "") + ("_vace" if args.vace and not args.gpu else "") + \
        ("_tiny" if args.tiny else "")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"real_shape{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


def _model_name(args) -> str:
    return ("tiny" if args.tiny else "Wan2.1-" + ("VACE" if args.vace else "T2V") + "-1.3B") + \
        (" (WanVACETransformer3DModel)" if args.vace else " (WanTransformer3DModel)")


def model_config(tiny: bool, vace: bool) -> dict:
    base = dict(TINY if tiny else WAN_13B)
    return {**base, **(TINY_VACE if tiny else VACE_13B)} if vace else base


# ---- CPU: the commands on folders ------------------------------------------------------------------------------

def cpu_rows(args) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="real-shape-") as tmp:
        root = Path(args.workdir or tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = [_timed("build", [sys.executable, __file__, "--_child", json.dumps(
            {"job": "build", "root": str(root), "tiny": args.tiny, "vace": args.vace, "frames": args.frames,
             "height": args.height, "width": args.width})])]
        size = ["--set", f"num_frames={args.frames}", "--set", f"height={args.height}", "--set", f"width={args.width}"]
        if args.vace:
            rows.append(_timed("train (LoRA DPO step, trainer.step)", [sys.executable, __file__, "--_child", json.dumps(
                {"job": "vace_step", "root": str(root), "tiny": args.tiny, "frames": args.frames,
                 "height": args.height, "width": args.width})]))
            return rows
        curate = [sys.executable, "-m", "curation.cli"]
        train = [*curate, "train-dpo", "--manifest", str(root / "pairs.parquet"), "--model-kind", "wan",
                 "--transformer", str(root / "transformer"), "--vae", str(root / "vae"), "--config", "wan_lora",
                 *size, "--set", "fps=16", "--set", "max_steps=1", "--set", "batch_size=1", "--set",
                 "gradient_accumulation_steps=1", "--set", "warmup_steps=1", "--set", "gradient_checkpointing=false",
                 "--output", str(root / "run"), "--no-progress", "--ignore-memory"]
        rows.append(_timed("train-dpo (LoRA r=32, 1 step)", train))
        logged = json.loads((root / "run" / "logs" / "metrics.jsonl").read_text().splitlines()[-1])
        rows.append({"step": "  of which the optimizer step", "wall_s": round(logged["step_seconds"], 2),
                     "said": f"loss {logged['loss']:.4f} (ln 2: policy == reference)"})
        rows.append(_timed("sample (1 solver step)", [*curate, "sample", "--run", str(root / "run"), "--clips",
                                                      str(root / "clips.csv"), "--out", str(root / "samples"),
                                                      "--steps", "1", "--no-progress"]))
        return rows


def _timed(name: str, cmd: list[str]) -> dict:
    """Run ``cmd`` in its own process: wall seconds and that process's peak RSS (ru_maxrss, KiB on Linux)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{name} failed (exit {code}):\n{out[-3000:]}")
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return {"step": name, "wall_s": round(wall, 2), "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2), "said": last}


def _child(job: dict) -> dict:
    if job["job"] == "build":
        return build_folders(Path(job["root"]), job["tiny"], job["vace"], job["frames"], job["height"], job["width"])
    return vace_cpu_step(Path(job["root"]), job["tiny"], job["frames"], job["height"], job["width"])


def build_folders(root: Path, tiny: bool, vace: bool, frames: int, height: int, width: int) -> dict:
    """transformer/ and vae/ (random weights, save_pretrained), a one-pair manifest of real mp4s and clips.csv."""
    import pandas as pd
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel, WanVACETransformer3DModel

    from tests.fixtures.media import make_png, make_video, make_wav

    torch.manual_seed(0)
    cls = WanVACETransformer3DModel if vace else WanTransformer3DModel
    model = cls(**model_config(tiny, vace))
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(root / "transformer")
    del model
    AutoencoderKLWan(**(TINY_VAE if tiny else {})).save_pretrained(root / "vae")  # the defaults are Wan2.1's VAE
    seconds = frames / 16 + 0.5
    media = root / "media"
    for name, seed in (("a", 0), ("b", 1)):
        make_video(media / f"{name}.mp4", seconds=seconds, fps=25, size=(width + 16, height + 16), audio=False,
                   seed=seed)
    make_png(media / "c0.png", seed=0, size=max(height, width))
    make_wav(media / "c0.wav", seconds=seconds, seed=0)
    pd.DataFrame([{"pair_id": "p0", "clip_id": "c0", "winner_video": "media/a.mp4", "loser_video": "media/b.mp4",
                   "image": "media/c0.png", "audio": "media/c0.wav", "prompt": "a person talking"}]
                 ).to_parquet(root / "pairs.parquet")
    (root / "clips.csv").write_text("clip_id,image,audio\nc0,media/c0.png,media/c0.wav\n")
    return {"params": params}


def vace_cpu_step(root: Path, tiny: bool, frames: int, height: int, width: int) -> dict:
    from diffusers import WanVACETransformer3DModel

    model = WanVACETransformer3DModel.from_pretrained(root / "transformer", local_files_only=True)
    latents = (16, 1 + (frames - 1) // 4, height // 8, width // 8)
    return one_step(model, latents, (8, 32) if tiny else (512, 4096), vace=True, steps=1, device="cpu")


# ---- the step itself (GPU mode, and --vace on CPU) ---------------------------------------------------------------

def one_step(model, latents: tuple, text: tuple, *, vace: bool, steps: int, device: str) -> dict:
    """LoRA DPO steps (r=32 on attention, reference = adapter off, bf16 autocast on GPU, checkpointing on GPU) through
    ``trainer.step.compute_loss``: median step seconds, peak memory, FLOPs per step."""
    import statistics

    import torch

    from trainer.dpo_config import DiffusionDPOConfig
    from trainer.models import make_denoiser
    from trainer.step import compute_loss, make_objective
    from trainer.trainable import build_policy

    cuda = device == "cuda"
    cfg = DiffusionDPOConfig(mode="dpo", reference="lora", lora_rank=32, lora_alpha=32.0, batch_size=1,
                             mixed_precision="bf16" if cuda else "no", gradient_checkpointing=cuda, warmup_steps=1,
                             learning_rate=1e-5, weighting="eps_equivalent")
    torch.manual_seed(0)
    model = model.to(device)
    policy = build_policy(model, cfg)
    opt = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.learning_rate)
    g = torch.Generator().manual_seed(1)
    batch = {"latents_w": torch.randn(1, *latents, generator=g).to(device),
             "latents_l": torch.randn(1, *latents, generator=g).to(device),
             "cond": {"encoder_hidden_states": (torch.randn(1, *text, generator=g) * 0.1).to(device)}}
    if vace:  # the VACE context as upstream builds it: VAE(zeros) twice under an all-ones mask; zeros stand in here
        batch["cond"]["vace_latents"] = torch.zeros(1, 2 * latents[0], *latents[1:], device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    denoiser, objective = make_denoiser("wan"), make_objective(cfg)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps + (1 if cuda else 0)):  # the first GPU step warms up kernels
        t0 = time.perf_counter()
        loss, _ = compute_loss(cfg, policy, model, model, denoiser, objective, batch, gen, None)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    timed = times[1:] if cuda else times
    return {"step_s": statistics.median(timed), "loss": float(loss.detach()),
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
            "params": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in policy.trainable_parameters()),
            "tflops_per_step": step_flops(dict(model.config), latents, text, vace) / 1e12}


def step_flops(config: dict, latents: tuple, text: tuple, vace: bool) -> float:
    """Model FLOPs of one DPO step on one pair (the convention of bench/train_step.py: a multiply-add is 2 FLOPs;
    the policy's forward + backward count 3 forwards, the reference 1, on 2 videos; checkpointing's recomputation
    is not counted). Per block on S video tokens, L text tokens, width d, FFN width f: self-attention
    8Sd^2 + 4S^2d, cross-attention 4Sd^2 + 4Ld^2 + 4SLd, FFN 4Sdf. A VACE block is one more block on the context."""
    _, t, h, w = latents
    s = t * (h // config["patch_size"][1]) * (w // config["patch_size"][2])
    L, d, f = text[0], config["num_attention_heads"] * config["attention_head_dim"], config["ffn_dim"]
    per_block = 8 * s * d * d + 4 * s * s * d + 4 * s * d * d + 4 * L * d * d + 4 * s * L * d + 4 * s * d * f
    blocks = config["num_layers"] + (len(config.get("vace_layers") or []) if vace else 0)
    return blocks * per_block * 2 * 4


def gpu_rows(args) -> list[dict]:
    import torch
    from diffusers import WanTransformer3DModel, WanVACETransformer3DModel

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("--gpu at 81 x 480 x 832 needs a CUDA GPU; torch sees none here (--gpu --tiny runs on CPU).")
    vace = args.vace or not args.tiny  # the real-shape GPU run is the VACE model
    torch.manual_seed(0)
    cls = WanVACETransformer3DModel if vace else WanTransformer3DModel
    model = cls(**model_config(args.tiny, vace))
    latents, text = ((16, 3, 8, 8), (8, 32)) if args.tiny else ((16, 21, 60, 104), (512, 4096))
    r = one_step(model, latents, text, vace=vace, steps=args.steps, device=device)
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    mfu = r["tflops_per_step"] / r["step_s"] / peak if peak else None
    return [{"step": f"LoRA DPO step {'x'.join(map(str, latents))} latents, bf16" if device == "cuda" else
             f"LoRA DPO step {'x'.join(map(str, latents))} latents (CPU, float32)", "device": name,
             "wall_s": round(r["step_s"], 4), "peak_gib": r["peak_gib"], "tflops_per_step": r["tflops_per_step"],
             "mfu": mfu, "params": r["params"], "trainable": r["trainable"], "loss": r["loss"]}]


def _print(result: dict) -> None:
    print(f"{result['model']}  (torch {result['torch']})")
    print(f"{'step':42} {'wall s':>9} {'peak mem':>10} {'MFU':>6}  (CPU: peak RSS of the step's process)")
    for r in result["rows"]:
        peak = f"{r['peak_rss_gib']:.2f} GiB" if "peak_rss_gib" in r else \
            (f"{r['peak_gib']:.2f} GiB" if r.get("peak_gib") is not None else "-")
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
        print(f"{r['step']:42} {r['wall_s']:>9.2f} {peak:>10} {mfu:>6}")


def _torch_version() -> str:
    try:
        import torch

        return torch.__version__
    except ImportError:
        return "-"


if __name__ == "__main__":
    main()
