"""Benchmark: seconds per minute of video for each `curate eval` metric, and the share spent decoding.

    python bench/eval.py                          # 3 clips x 10 s at 512 x 512, CPU
    python bench/eval.py --clips 2 --seconds 4    # a quick look
    python bench/eval.py --device cuda            # on a GPU machine

Makes ``--clips`` generated videos (a cartoon face, so the Haar face track runs, with brightness and
audio loudness following one pattern) and as many ground-truth videos (H.264 + AAC, 25 fps) and
weight files of the real architectures with random values (SyncNet, AlexNet for LPIPS). The
Inception/I3D TorchScript files and DWPose's ONNX cannot be made here: pass the real ones with
``--inception``, ``--i3d``, ``--dwpose``; without them small stand-in networks run and their
times are marked "stand-in" (they measure our preprocessing, not the model).

Two measurements side by side in one run:
1. one ``evaluate`` with every metric: each video decoded once (the command's way);
2. one ``evaluate`` per metric family (PSNR+SSIM share one pass): each run decodes again.
The difference is the decode work saved; the per-stage clock of run 1 gives each metric's
model time. Prints a table and writes bench/results/eval.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.evaluate import METRICS
from curation.evaluate.items import Item
from curation.evaluate.run import evaluate
from curation.evaluate.config import EvalConfig
from tests.fixtures.eval_media import make_coded_video
from tests.fixtures.eval_models import (
    TinyI3D,
    TinyInception,
    save_alexnet,
    save_dwpose_standin,
    save_syncnet,
    save_torchscript,
)
from tests.fixtures.media import make_png, make_video

STAGES = ["decode", "psnr_ssim", "lpips", "sync", "hands", "fid", "fvd"]
FAMILIES = [("psnr", "ssim"), ("lpips",), ("sync",), ("hands",), ("fid",), ("fvd",)]


def _setup(
    d: Path, clips: int, seconds: float, size: int, inception: str | None, i3d: str | None, dwpose: str | None
):
    save_syncnet(d / "syncnet_v2.model")
    save_alexnet(d / "alexnet.pth")
    inc = inception or str(save_torchscript(TinyInception(), d / "inception.pt"))
    i3 = i3d or str(save_torchscript(TinyI3D(), d / "i3d.pt"))
    dw = dwpose or str(save_dwpose_standin(d / "dw.onnx"))
    cfg = EvalConfig(
        syncnet=str(d / "syncnet_v2.model"),
        lpips_backbone=str(d / "alexnet.pth"),
        inception=inc,
        i3d=i3,
        dwpose=dw,
        face_crop="face",
    )
    face = np.asarray(Image.open(make_png(d / "face.png", seed=0, size=size)).convert("RGB"))
    items = []
    for i in range(clips):
        ref = make_video(d / "ref" / f"c{i}.mp4", seconds=seconds, size=(size, size), seed=i)
        gen = make_coded_video(d / "gen" / f"c{i}.mp4", frames=round(seconds * 25), seed=i, base=face)
        items.append(Item("bench", f"c{i}", f"c{i}:bench", gen, ref))
    return cfg, items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--inception", help="the real inception-2015-12-05.pt (else a stand-in)")
    ap.add_argument("--i3d", help="the real i3d_torchscript.pt (else a stand-in)")
    ap.add_argument("--dwpose", help="the real dw-ll_ucoco_384.onnx (else a stand-in)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "eval.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        d = Path(tmp)
        cfg, items = _setup(d, args.clips, args.seconds, args.size, args.inception, args.i3d, args.dwpose)
        t0 = time.perf_counter()
        once = evaluate(items, cfg, d, METRICS, device=args.device)
        once_total = time.perf_counter() - t0
        separate, separate_decode = 0.0, 0.0
        for family in FAMILIES:
            t0 = time.perf_counter()
            res = evaluate(items, cfg, d, family, device=args.device)
            separate += time.perf_counter() - t0
            separate_decode += res.seconds.get("decode", 0.0)
    minutes = once.video_seconds / 60.0
    per_min = {s: once.seconds.get(s, 0.0) / minutes for s in STAGES}
    result = {
        "machine": platform.processor() or platform.machine(),
        "device": args.device,
        "clips": args.clips,
        "seconds_per_clip": args.seconds,
        "size": args.size,
        "video_minutes": minutes,
        "seconds_per_video_minute": per_min,
        "decode_share": once.seconds.get("decode", 0.0) / once_total,
        "all_metrics_one_decode_s": once_total,
        "one_run_per_metric_s": separate,
        "decode_s_one_run": once.seconds.get("decode", 0.0),
        "decode_s_per_metric_runs": separate_decode,
        "stand_in": {"fid": args.inception is None, "fvd": args.i3d is None, "hands": args.dwpose is None},
    }
    print(
        f"{args.clips} generated + {args.clips} ground-truth videos, {args.seconds:g} s each at "
        f"{args.size}x{args.size}, device {args.device}: {minutes:.2f} min of generated video"
    )
    print(f"{'stage':<10} {'s per video minute':>19}")
    for s in STAGES:
        tag = " (stand-in network)" if result["stand_in"].get(s) else ""
        print(f"{s:<10} {per_min[s]:>19.2f}{tag}")
    print(f"decode share of the all-metrics run: {result['decode_share']:.1%}")
    print(
        f"all metrics, one decode: {once_total:.1f} s; one run per metric family: {separate:.1f} s "
        f"(decode {once.seconds.get('decode', 0.0):.1f} s vs {separate_decode:.1f} s)"
    )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
