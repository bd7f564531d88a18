"""Score every item: each video is decoded once and handed to every metric that runs."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.evaluate import METRICS
from curation.evaluate.decode import Decoded, decode
from curation.evaluate.items import Item
from curation.evaluate.weights import Skip, WeightsMissing, resolve_weights

FULL_REFERENCE = ("psnr", "ssim", "lpips")
NEEDS = {"sync": "syncnet", "fid": "inception", "fvd": "i3d", "lpips": "lpips_backbone", "hands": "dwpose"}


@dataclass
class EvalResult:
    rows: list[dict]  # one per item: per-clip metrics
    distribution: dict[str, dict[str, float]]  # method -> {"fid": .., "fvd": ..}
    skips: list[Skip]
    seconds: dict[str, float]  # wall time per stage: decode, psnr_ssim, lpips, sync, hands, fid, fvd
    video_seconds: float = 0.0  # total duration of the generated videos
    notes: list[str] = field(default_factory=list)


def parse_metrics(value: str | None) -> tuple[str, ...]:
    """``sync,fid`` -> ("sync", "fid"); None/"all" -> every metric."""
    if value is None or value.strip() == "all":
        return METRICS
    names = tuple(dict.fromkeys(m.strip() for m in value.split(",") if m.strip()))
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"--metrics: unknown {unknown or value!r}; choose from {','.join(METRICS)}.")
    return names


def load_models(cfg, root: Path, metrics: tuple[str, ...], device: str = "cpu") -> tuple[dict, list[Skip]]:
    """The networks of the requested metrics; a metric whose weights are missing becomes a Skip."""
    models, skips = {}, []
    for metric in metrics:
        setting = NEEDS.get(metric)
        if setting is None:
            continue
        try:
            path = resolve_weights(root, setting, getattr(cfg, setting), cfg.sha256.get(setting))
        except WeightsMissing as e:
            skips.append(Skip(metric, str(e)))
            continue
        if metric == "sync":
            from curation.evaluate.syncnet import load_syncnet

            models[metric] = load_syncnet(path).to(device)
        elif metric == "lpips":
            from curation.evaluate.fullref import Lpips

            models[metric] = Lpips(path, device)
        elif metric == "hands":
            from curation.evaluate.hands import DWPose

            models[metric] = DWPose(path, device)
        elif metric == "fid":
            from curation.evaluate.frechet import InceptionFeatures

            models[metric] = InceptionFeatures(path, device)
        else:
            from curation.evaluate.frechet import I3DFeatures

            models[metric] = I3DFeatures(path, device)
    return models, skips


class _Clock:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def run(self, stage: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds[stage] += time.perf_counter() - t0


def evaluate(
    items: list[Item], cfg, root: Path, metrics: tuple[str, ...], progress: bool = False, device: str = "cpu"
) -> EvalResult:
    """Per-clip metrics for every item and FID/FVD per method (networks and tensors on ``device``)."""
    from tqdm import tqdm

    from curation.evaluate import fullref

    models, skips = load_models(cfg, root, metrics, device)
    wants_ref = any(m in metrics for m in (*FULL_REFERENCE, "fid", "fvd"))
    clock = _Clock()
    feats: dict[tuple[str, str], list[np.ndarray]] = defaultdict(
        list
    )  # (metric, method) -> generated features
    ref_feats: dict[tuple[str, Path], np.ndarray] = {}  # each ground truth's features, computed once
    ref_cache: dict[Path, Decoded] = {}
    rows, video_seconds = [], 0.0
    for item in tqdm(
        sorted(items, key=lambda i: (i.clip_id, i.method)),
        desc="evaluating",
        unit="video",
        disable=not progress,
    ):
        what = f"{item.method}/{item.clip_id}"
        cand = clock.run("decode", decode, item.video, what, item.audio)
        video_seconds += cand.seconds
        row = {
            "method": item.method,
            "clip_id": item.clip_id,
            "candidate_id": item.candidate_id,
            "video": str(item.video),
            "reference": str(item.reference) if item.reference else None,
            "frames": len(cand.frames),
            "seconds": cand.seconds,
        }
        notes = []
        ref = None
        if wants_ref and item.reference is not None:
            if item.reference not in ref_cache:
                ref_cache.clear()  # items are sorted by clip: the previous clip's ground truth is done
                ref_cache[item.reference] = clock.run(
                    "decode", decode, item.reference, f"ground truth of {what}"
                )
            ref = ref_cache[item.reference]
        elif wants_ref:
            notes.append("no ground truth: PSNR/SSIM/LPIPS/FID/FVD not computed")
        why_not = fullref.check_comparable(cand, ref) if ref is not None else None
        if why_not:
            notes.append(f"PSNR/SSIM/LPIPS not computed: {why_not}")
        if ref is not None and not why_not:
            if "psnr" in metrics or "ssim" in metrics:
                vals = clock.run("psnr_ssim", fullref.psnr_ssim, cand, ref, device)
                row.update({k: v for k, v in vals.items() if k in metrics})
            if "lpips" in models:
                row["lpips"] = clock.run("lpips", models["lpips"], cand, ref)
        if "sync" in models:
            from curation.evaluate.sync import sync_scores

            res = clock.run("sync", sync_scores, models["sync"], cand, cfg.face_crop, device)
            if isinstance(res, str):
                notes.append(f"Sync-C/D not computed: {res}")
            else:
                row.update(res)
        if "hands" in models:
            row.update(clock.run("hands", models["hands"], cand.frames))
        for m in ("fid", "fvd"):
            if m in models and ref is not None:
                feats[(m, item.method)].append(clock.run(m, models[m], cand.frames))
                if (m, item.reference) not in ref_feats:
                    ref_feats[(m, item.reference)] = clock.run(m, models[m], ref.frames)
        row["note"] = "; ".join(notes) or None
        rows.append(row)
    distribution = _distribution(feats, ref_feats, items, skips)
    return EvalResult(rows, distribution, skips, dict(clock.seconds), video_seconds)


def _distribution(feats, ref_feats, items, skips) -> dict[str, dict[str, float]]:
    """FID/FVD of each method against the ground truth of the clips it covers."""
    from curation.evaluate.frechet import frechet_distance

    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (metric, method), fake in feats.items():
        refs = {i.reference for i in items if i.method == method and i.reference is not None}
        real = [ref_feats[(metric, r)] for r in sorted(refs) if (metric, r) in ref_feats]
        fake_all = (
            np.concatenate([f for f in fake if f.size]) if any(f.size for f in fake) else np.zeros((0, 0))
        )
        real_all = (
            np.concatenate([r for r in real if r.size]) if any(r.size for r in real) else np.zeros((0, 0))
        )
        try:
            out[method][metric] = frechet_distance(real_all, fake_all)
        except ValueError as e:
            skips.append(Skip(metric, f"{method}: {e}"))
    return dict(out)
