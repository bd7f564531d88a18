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

            models["sync_detector"] = load_detector(cfg, root, device)

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

            models[metric] = I3DFeatures(path, device, cfg.fvd_clips)
    return models, skips


def load_detector(cfg, root: Path, device: str = "cpu"):
    """The S3FD of ``eval.s3fd`` when Sync detects faces, else None (the Haar cascade, the fallback).

    Raises:
        CurateError: ``eval.s3fd`` names no file, fails its hash check or is not an S3FD state dict
            (never silently replaced by the fallback).
    """
    from storage.errors import CurateError

    if not cfg.s3fd or cfg.face_crop != "face":
        return None
    from curation.evaluate.s3fd import load_s3fd

    try:
        path = resolve_weights(root, "s3fd", cfg.s3fd, cfg.sha256.get("s3fd"))
    except WeightsMissing as e:
        raise CurateError(str(e)) from None
    return load_s3fd(path, device)


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
    items: list[Item],
    cfg,
    root: Path,
    metrics: tuple[str, ...],
    progress: bool = False,
    device: str = "cpu",
    max_frames: int | None = None,
) -> EvalResult:
    """Per-clip metrics for every item and FID/FVD per method (networks and tensors on ``device``); at most
    ``max_frames`` frames of a video are decoded (default ``limits.max_decoded_frames``)."""
    from tqdm import tqdm

    models, skips = load_models(cfg, root, metrics, device)
    run = _Run(cfg, metrics, models, device)
    run.max_frames = max_frames
    ordered = sorted(items, key=lambda i: (i.clip_id, i.method))  # a clip's ground truth is decoded once
    rows = [run.score(item) for item in tqdm(ordered, desc="evaluating", unit="video", disable=not progress)]
    distribution = _distribution(run.feats, skips)
    return EvalResult(rows, distribution, skips, dict(run.clock.seconds), run.video_seconds)


class _Run:
    """State of one evaluation: the clock, the current clip's ground truth, FID/FVD features."""

    def __init__(self, cfg, metrics, models, device):
        self.cfg, self.metrics, self.models, self.device = cfg, metrics, models, device
        self.wants_ref = any(m in metrics for m in (*FULL_REFERENCE, "fid", "fvd"))
        self.clock = _Clock()
        self.feats: dict[tuple[str, str], list[tuple]] = defaultdict(list)  # (metric, method): (fake, real)
        self.ref_feats: dict[tuple[str, Path], np.ndarray] = {}  # per ground truth, computed once
        self.ref_cache: dict[Path, Decoded] = {}
        self.video_seconds = 0.0
        self.max_frames: int | None = None  # None: limits.max_decoded_frames

    def score(self, item: Item) -> dict:
        what = f"{item.method}/{item.clip_id}"
        cand = self.clock.run("decode", decode, item.video, what, item.audio, "sync" in self.models, self.max_frames)
        self.video_seconds += cand.seconds
        row = {
            "method": item.method,
            "clip_id": item.clip_id,
            "candidate_id": item.candidate_id,
            "video": str(item.video),
            "reference": str(item.reference) if item.reference else None,
            "frames": len(cand.frames),
            "seconds": cand.seconds,
        }
        notes: list[str] = []
        ref = self._reference(item, what, notes)
        at_ref_rate = cand
        if ref is not None:
            from curation.evaluate.fullref import match_rate

            at_ref_rate, note = match_rate(cand, ref)  # frame i against frame i needs one frame rate
            if note:
                notes.append(note)
            self._full_reference(row, notes, at_ref_rate, ref)
        if "sync" in self.models:
            from curation.evaluate.sync import sync_scores

            res = self.clock.run(
                "sync", sync_scores, self.models["sync"], cand, self.cfg.face_crop, self.device, _rules(self.cfg),
                self.models.get("sync_detector"),
            )
            if isinstance(res, str):
                notes.append(f"Sync-C/D not computed: {res}")
            else:
                row.update(res)
        if "hands" in self.models:
            row.update(self.clock.run("hands", self.models["hands"], cand.frames))
        for m in ("fid", "fvd"):
            if m in self.models and ref is not None:
                self._frechet_features(m, item, at_ref_rate, ref)
        row["note"] = "; ".join(notes) or None
        return row

    def _frechet_features(self, m: str, item: Item, cand: Decoded, ref: Decoded) -> None:
        """(generated, ground truth) features of one clip over the same frames: the shorter video's."""
        model = self.models[m]
        n = min(len(cand.frames), len(ref.frames))
        if (m, item.reference) not in self.ref_feats:  # every frame once; each candidate takes its share
            self.ref_feats[(m, item.reference)] = self.clock.run(m, model, ref.frames)
        fake = self.clock.run(m, model, cand.frames[:n])
        self.feats[(m, item.method)].append((fake, model.take(self.ref_feats[(m, item.reference)], n)))

    def _reference(self, item: Item, what: str, notes: list[str]) -> Decoded | None:
        if not self.wants_ref:
            return None
        if item.reference is None:
            notes.append("no ground truth: PSNR/SSIM/LPIPS/FID/FVD not computed")
            return None
        if item.reference not in self.ref_cache:
            self.ref_cache.clear()  # items come sorted by clip: the previous clip's ground truth is done
            self.ref_cache[item.reference] = self.clock.run(
                "decode", decode, item.reference, f"ground truth of {what}", None, False, self.max_frames
            )
        return self.ref_cache[item.reference]

    def _full_reference(self, row: dict, notes: list[str], cand: Decoded, ref: Decoded) -> None:
        from curation.evaluate import fullref

        why_not = fullref.check_comparable(cand, ref)
        if why_not:
            notes.append(f"PSNR/SSIM/LPIPS not computed: {why_not}")
            return
        if "psnr" in self.metrics or "ssim" in self.metrics:
            try:
                vals = self.clock.run("psnr_ssim", fullref.psnr_ssim, cand, ref, self.device)
            except ValueError as e:  # frames below SSIM's window
                notes.append(f"PSNR/SSIM not computed: {e}")
            else:
                row.update({k: v for k, v in vals.items() if k in self.metrics})
        if "lpips" in self.models:
            row["lpips"] = self.clock.run("lpips", self.models["lpips"], cand, ref)


def _rules(cfg):
    from curation.evaluate.sync import TrackRules

    return TrackRules(cfg.sync_min_track, float(cfg.sync_min_face), cfg.sync_scene_cuts)


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if p.size]
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def _distribution(feats, skips) -> dict[str, dict[str, float]]:
    """FID/FVD of each method: its clips' generated features against the same clips' ground truth."""
    from curation.evaluate.frechet import frechet_distance

    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (metric, method), pairs in feats.items():
        try:
            out[method][metric] = frechet_distance(_stack([r for _, r in pairs]), _stack([f for f, _ in pairs]))
        except ValueError as e:
            skips.append(Skip(metric, f"{method}: {e}"))
    return dict(out)
