"""``curate demo --rounds 2``: a two-round campaign in miniature on CPU.

Round 1: the demo's clips and built-in candidates, rated by two simulated raters; pairs; a few steps of phased SFT
(the audio motion module) then Diffusion-DPO from it, on a tiny Wan model built in code (``demo-models/``); round 2:
three new clips, the built-ins plus the trained run as the ``policy-r1`` method, rated the same way; per-round
means and head-to-head win rates. The tiny model's samples look like noise: the point is that the loop runs and
is measured.

The simulated raters are not people: they score what can be measured on the video itself. Fidelity falls with the
mean absolute pixel difference between the frames and the reference portrait (1 at 64 grey levels and more, 5 at
0); alignment rises with the correlation between frame-to-frame motion and the audio's loudness (1 at <= 0, 5 at
1). The second rater adds -1, 0 or +1 (seeded) to each score.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

POLICY_METHOD = "policy-r1"
RATERS = ("sim-a", "sim-b")
TINY_WAN = {"patch_size": (1, 2, 2), "num_attention_heads": 2, "attention_head_dim": 12, "in_channels": 16,
            "out_channels": 16, "text_dim": 32, "freq_dim": 256, "ffn_dim": 32, "num_layers": 2,
            "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 32}
TINY_WAN_VAE = {"base_dim": 3, "z_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1,
                "temperal_downsample": [False, True, True]}
TRAIN_STEPS = 4


def proxy_scores(video: Path, image: Path) -> tuple[float, float]:
    """(alignment, fidelity) in [1, 5] of one candidate, measured as the module docstring says."""
    import decord
    from PIL import Image

    vr = decord.VideoReader(str(video))
    frames = vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32)  # (T, H, W, 3)
    h, w = frames.shape[1:3]
    with Image.open(image) as im:
        ref = np.asarray(im.convert("RGB").resize((w, h)), dtype=np.float32)
    fidelity = 5 - 4 * min(float(np.abs(frames - ref).mean()) / 64, 1.0)
    motion = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    ar = decord.AudioReader(str(video), sample_rate=16000, mono=True)
    x = ar[:].asnumpy().reshape(-1)
    hop = len(x) / len(vr)
    loud = np.array([np.sqrt(np.mean(x[int(i * hop): int((i + 1) * hop)] ** 2) + 1e-12) for i in range(1, len(vr))])
    corr = float(np.corrcoef(motion, loud)[0, 1]) if motion.std() > 0 and loud.std() > 0 else 0.0
    return 1 + 4 * min(max(corr, 0.0), 1.0), fidelity


def rate_round(ws, round_no: int, seed: int = 0) -> int:
    """Ratings by the two simulated raters for every ready candidate of ``round_no``; returns how many."""
    from sqlalchemy import select

    from curation.file_import import import_ratings
    from storage import Candidate, CandidateStatus, Clip

    with ws.store() as store, store.session() as s:
        rows = s.execute(select(Candidate.candidate_id, Candidate.video_path, Clip.image_path)
                         .join(Clip, Candidate.clip_pk == Clip.id)
                         .where(Clip.round == round_no, Candidate.status == CandidateStatus.ready)
                         .order_by(Candidate.candidate_id)).all()
    rng = np.random.default_rng(seed + round_no)
    path = ws.path("tmp", f"demo-ratings-r{round_no}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["candidate_id", "annotator_id", "alignment", "fidelity", "broken"])
        for cid, video, image in rows:
            a, fi = proxy_scores(Path(video), Path(image))
            for i, rater in enumerate(RATERS):
                da, df = rng.integers(-1, 2, size=2) if i else (0, 0)
                out.writerow([cid, rater, int(np.clip(round(a) + da, 1, 5)), int(np.clip(round(fi) + df, 1, 5)),
                              "false"])
    import_ratings(ws, path)
    return 2 * len(rows)


def build_round_pairs(ws, round_no: int) -> Path:
    from curation.pairs.build import build_pairs
    from curation.pairs.config import BuildPairsConfig
    from curation.pairs.manifest import write_manifest

    cfg = BuildPairsConfig(rounds=(round_no,))
    with ws.store() as store:
        result = build_pairs(cfg, store=store)
    path, _card, _meta = write_manifest(cfg, result, folder=ws.path("manifests"), force=False)
    return Path(path)


def tiny_models(folder: Path) -> dict[str, str]:
    """A tiny Wan transformer, Wan VAE and wav2vec2 (random weights, built in code) saved once under ``folder``."""
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    paths = {k: folder / k for k in ("wan", "vae", "w2v")}
    torch.manual_seed(0)
    if not (paths["wan"] / "config.json").is_file():
        WanTransformer3DModel(**TINY_WAN).save_pretrained(paths["wan"])
    if not (paths["vae"] / "config.json").is_file():
        AutoencoderKLWan(**TINY_WAN_VAE).save_pretrained(paths["vae"])
    if not (paths["w2v"] / "config.json").is_file():
        Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, conv_dim=(32, 32, 32), conv_stride=(4, 4, 4),
                                     conv_kernel=(8, 8, 8), conv_bias=False, num_conv_pos_embeddings=16,
                                     num_conv_pos_embedding_groups=2, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=20, vocab_size=32)).save_pretrained(paths["w2v"])
    return {k: str(v) for k, v in paths.items()}


def train_round(ws, pairs: Path) -> Path:
    """Phased SFT (audio) on the pairs' winners, then DPO from it; returns the DPO run folder."""
    import pandas as pd

    from trainer.dpo_config import load_config
    from trainer.run import run

    models = tiny_models(ws.path("demo-models"))
    common = {"model_kind": "wan", "denoiser_path": models["wan"], "vae_path": models["vae"],
              "audio_encoder_path": models["w2v"], "fps": 16.0, "max_steps": TRAIN_STEPS, "checkpoint_every": 0,
              "cache_dir": str(ws.path("runs", "latent-cache"))}
    rows = pd.read_parquet(pairs)
    videos = ws.path("manifests", "demo-winners.parquet")
    pd.DataFrame({"clip_id": rows["clip_id"], "video": rows["winner_video"], "image": rows["image"],
                  "audio": rows["audio"]}).to_parquet(videos)
    sft, dpo = ws.path("runs", "sft1"), ws.path("runs", "dpo1")
    if not (sft / "final").is_dir():
        cfg = load_config(preset="tiny", overrides={**common, "mode": "sft", "phase": "audio",
                                                    "output_dir": str(sft)})
        run(cfg, videos, ws.media_roots, resume=False, prepare_only=False, progress=False, manifest_kind="videos")
    if not (dpo / "final").is_dir():
        cfg = load_config(preset="tiny", overrides={**common, "init_from": str(sft), "output_dir": str(dpo)})
        run(cfg, pairs, ws.media_roots, resume=False, prepare_only=False, progress=False)
    return dpo


def open_round_two(ws, dpo: Path, n: int = 3, seconds: float = 2.0):
    """Round 2: new clips, and the DPO run registered as ``policy-r1``; returns the reloaded workspace."""
    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest
    from storage.rounds import start_round
    from storage.workspace import load

    manifest = make_sample_clips(ws.path("media", "sample-r2"), n=n, seconds=seconds,
                                 prefix="round2", first_seed=100)
    with ws.store() as store:
        start_round(store, note=f"{POLICY_METHOD} from {dpo.relative_to(ws.root)}")
    text = ws.config_path.read_text()
    if f"[generators.{POLICY_METHOD}]" not in text:
        ws.config_path.write_text(text + f'\n[generators.{POLICY_METHOD}]\nadapter = "policy"\n'
                                  f'run = "{dpo.relative_to(ws.root)}"\nsteps = 4\n')
    ws = load(ws.root)
    ingest_manifest(ws, manifest)
    return ws


def run_two_rounds(ws, methods: list[str], echo) -> object:
    """Round 1's ratings, pairs and training, then round 2 with ``methods`` and the policy; returns the workspace
    (reloaded). Each step is skipped when already done, like the rest of the demo."""
    from generators.runner import run_generation
    from storage.rounds import current_round

    with ws.store() as store:
        current = current_round(store)
    if current == 1:
        echo(f"Round 1: {rate_round(ws, 1)} ratings by the simulated raters {', '.join(RATERS)}")
        pairs = build_round_pairs(ws, 1)
        echo(f"Round 1 pairs: {pairs.relative_to(ws.root)}")
        echo(f"Training a tiny Wan: {TRAIN_STEPS} steps of SFT (audio module), then {TRAIN_STEPS} of DPO...")
        dpo = train_round(ws, pairs)
        echo(f"Run: {dpo.relative_to(ws.root)}")
        ws = open_round_two(ws, dpo)
    rep = run_generation(ws, [*methods, POLICY_METHOD], progress=False, rounds=(2,))
    echo(f"Round 2 candidates: {rep.done} generated, {rep.skipped} already there, {rep.failed} failed")
    echo(f"Round 2: {rate_round(ws, 2)} ratings")
    return ws
