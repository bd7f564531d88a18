"""Benchmark: sampling from a trained run (``trainer.generation.clip.sample_clip``, the whole path: audio features, solver
with text + audio guidance, VAE decode, mp4 with audio).

Figures per shape: seconds of compute per generated second of video, and peak memory; and the overlapping-window
overhead: the cost per generated second of a clip of ``--windows`` windows over that of a clip of exactly one window.
Each window after the first makes W - o new frames of W, so n windows do n W frames of work for W + (n - 1)(W - o)
frames of video: the solver + decode floor is n W / (W + (n - 1)(W - o)) (tiny, 4 windows of 9 frames, o = 1:
36 / 33 = 1.091; it tends to W / (W - o) for long clips; Wan2.1 81 frames: 81 / 80 = 1.0125).

CPU (default, tiny shape: the tests' tiny Wan + Wan VAE + wav2vec2, 9 frames at 32x32, 16 fps): both clips in one
process, alternating, 1 torch thread, medians of process CPU time (wall beside it); memory per clip length in its
own process (peak-RSS growth over the RSS after the model is built, malloc mmap threshold 64 KiB).
GPU (``--wan-1.3b``): Wan2.1-T2V-1.3B transformer shape and Wan2.1 VAE with random weights from their configs,
a wav2vec2-base-shaped audio encoder, 81 frames at 480x832, bf16 autocast, wall time after synchronize,
``torch.cuda.max_memory_allocated``.

    python bench/sample.py                      # tiny, CPU
    python bench/sample.py --wan-1.3b --steps 30   # needs CUDA

Prints a table and writes bench/results/sample.json (``--wan-1.3b``: sample_wan1.3b.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_step import MODELS, _peak_rss_mib, _rss_mib, _sync, _threads

SHAPES = {
    "tiny": dict(wan=MODELS["tiny"]["config"], frames=9, height=32, width=32, fps=16.0,
                 vae=dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                          temperal_downsample=[False, True, True]),
                 w2v=dict(hidden_size=16, conv_dim=(32, 32, 32), conv_stride=(4, 4, 4), conv_kernel=(8, 8, 8),
                          conv_bias=False, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=20, vocab_size=32),
                 text_length=8),
    # diffusers' AutoencoderKLWan() and transformers' Wav2Vec2Config() defaults are Wan2.1's VAE and wav2vec2-base
    "wan1.3b": dict(wan=MODELS["wan1.3b"]["config"], frames=81, height=480, width=832, fps=16.0, vae={}, w2v={},
                    text_length=512),
}


def build(shape: str, device: str, steps: int):
    """A ``trainer.generation.run_loader.Run`` built in code (random weights, motion module attached) and its settings."""
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from trainer.dpo_config import DiffusionDPOConfig
    from trainer.generation.run_loader import Run
    from trainer.generation.settings import SampleConfig
    from trainer.motion.attach import attach_motion
    from trainer.motion.config import MotionConfig

    s = SHAPES[shape]
    torch.manual_seed(0)
    model = WanTransformer3DModel(**s["wan"])
    w2v = Wav2Vec2Model(Wav2Vec2Config(**s["w2v"])).eval()
    attach_motion(model, MotionConfig(audio_dim=w2v.config.hidden_size), "wan")
    cfg = DiffusionDPOConfig(model_kind="wan", num_frames=s["frames"], height=s["height"], width=s["width"],
                             fps=s["fps"], text_length=s["text_length"], shift=5.0)
    dev = torch.device(device)
    run = Run(Path("bench"), None, cfg, model.eval().requires_grad_(False).to(dev),
              AutoencoderKLWan(**s["vae"]).eval().requires_grad_(False).to(dev), w2v.to(dev), None, None, dev)
    return run, SampleConfig(steps=steps, guidance_text=5.0, guidance_audio=3.5)


def clip_seconds(shape: str, windows: int) -> float:
    """Audio for exactly ``windows`` windows (1 carried latent frame = 1 video frame: W + (n - 1)(W - 1) frames)."""
    s = SHAPES[shape]
    return (s["frames"] + (windows - 1) * (s["frames"] - 1)) / s["fps"]


def _inputs(folder: Path, shape: str, windows: int):
    from curation.demo.media import draw_portrait, speech_like, write_wav

    image = draw_portrait(folder / "face.png", seed=0, size=256)
    audio = write_wav(folder / f"voice{windows}.wav", speech_like(clip_seconds(shape, windows), seed=0))
    return image, audio


def _one(run, scfg, image, audio, out, device) -> tuple[float, float, float, float]:
    """(wall, CPU) of the whole clip, and (wall, CPU) spent in the solver windows and the VAE decodes alone."""
    import torch

    import trainer.generation.clip as ts

    dev = torch.device(device)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else _null()
    inner = [0.0, 0.0]

    def timed(fn):
        def wrapper(*a, **k):
            _sync(dev)
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                _sync(dev)
                inner[0] += time.perf_counter() - t
                inner[1] += time.process_time() - c
        return wrapper

    saved = ts.sample_window, ts.decode
    ts.sample_window, ts.decode = timed(ts.sample_window), timed(ts.decode)
    try:
        _sync(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        with ctx:
            ts.sample_clip(run, scfg, image, audio, None, out)
        _sync(dev)
        return time.perf_counter() - t0, time.process_time() - c0, inner[0], inner[1]
    finally:
        ts.sample_window, ts.decode = saved


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def run_timing(shape, windows, repeats, device, steps) -> dict:
    run, scfg = build(shape, device, steps)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = {n: _inputs(folder, shape, n) for n in (1, windows)}
        _one(run, scfg, *inputs[1], folder / "warm.mp4", device)
        times = {1: [], windows: []}
        for _ in range(repeats):  # alternate, so load from other jobs hits both alike
            for n in (1, windows):
                times[n].append(_one(run, scfg, *inputs[n], folder / f"o{n}.mp4", device))
    out = {}
    for n, ts in times.items():
        secs = clip_seconds(shape, n)
        video = round(secs * SHAPES[shape]["fps"]) / SHAPES[shape]["fps"]
        wall, cpu, swall, scpu = (statistics.median(t[i] for t in ts) for i in range(4))
        out[n] = {"windows": n, "video_s": video, "wall_s": wall, "cpu_s": cpu,
                  "wall_per_video_s": wall / video, "cpu_per_video_s": cpu / video,
                  "sampler_wall_per_video_s": swall / video, "sampler_cpu_per_video_s": scpu / video}
    return out


def run_memory(shape, windows, device, steps) -> float:
    import torch

    run, scfg = build(shape, device, steps)
    base = _rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        image, audio = _inputs(Path(tmp), shape, windows)
        _one(run, scfg, image, audio, Path(tmp) / "o.mp4", device)
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return _peak_rss_mib() - base


def _child(job: dict) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True,
                         env=env, check=False)
    if res.returncode:
        raise SystemExit(f"worker failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="solver steps per window (default 10)")
    ap.add_argument("--windows", type=int, default=4, help="windows of the long clip (default 4)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each clip (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on CPU (default 1)")
    ap.add_argument("--wan-1.3b", dest="wan13", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        _threads(job["threads"])
        if job["what"] == "memory":
            print(json.dumps({"peak_mib": run_memory(job["shape"], job["windows"], job["device"], job["steps"])}))
        else:
            print(json.dumps(run_timing(job["shape"], job["windows"], job["repeats"], job["device"], job["steps"])))
        return
    import torch

    if args.wan13 and not torch.cuda.is_available():
        raise SystemExit("--wan-1.3b needs a CUDA GPU; torch sees none here.")
    shape, device = ("wan1.3b", "cuda") if args.wan13 else ("tiny", "cpu")
    common = {"shape": shape, "device": device, "steps": args.steps, "threads": args.threads}
    timing = _child({**common, "what": "timing", "windows": args.windows, "repeats": args.repeats})
    rows = []
    for n in ("1", str(args.windows)):
        row = {"shape": shape, **timing[n], **_child({**common, "what": "memory", "windows": int(n)})}
        rows.append(row)
    key = "wall_per_video_s" if device == "cuda" else "cpu_per_video_s"
    frames = SHAPES[shape]["frames"]
    summary = {"overhead": rows[1][key] / rows[0][key],
               "overhead_sampler": rows[1]["sampler_" + key] / rows[0]["sampler_" + key],
               "floor": args.windows * frames / (frames + (args.windows - 1) * (frames - 1)), "time_basis": key,
               "steps": args.steps, "guidance": "text 5.0 + audio 3.5 (3 branches per step)"}
    _print(rows, summary)
    out = ROOT / "bench" / "results" / ("sample_wan1.3b.json" if args.wan13 else "sample.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "summary": summary, "args": vars(args), "torch": torch.__version__,
                               "machine": platform.processor() or platform.machine(),
                               "when": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
    print(f"\nwrote {out.relative_to(ROOT)}")


def _print(rows, summary) -> None:
    print("| shape | windows | video s | CPU s | wall s | CPU s per video s | wall s per video s | solver+decode "
          "CPU s per video s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['windows']} | {r['video_s']:.3f} | {r['cpu_s']:.3f} | {r['wall_s']:.3f} | "
              f"{r['cpu_per_video_s']:.3f} | {r['wall_per_video_s']:.3f} | {r['sampler_cpu_per_video_s']:.3f} | "
              f"{r['peak_mib']:.1f} |")
    print(f"\noverlapping windows per generated second, {summary['time_basis']}: whole path "
          f"{summary['overhead']:.3f}x one window, solver + decode {summary['overhead_sampler']:.3f}x "
          f"(floor {summary['floor']:.3f}); {summary['steps']} steps, {summary['guidance']}")


if __name__ == "__main__":
    main()
