"""The pair manifest as training data: validation before training, then a Dataset over the latent cache.

Batch layout (the trainer contract; ``collate_pairs`` builds it):
    latents_w, latents_l: float32 (B, C, T, H, W) normalised VAE latents of winners and losers.
    cond: dict of (B, ...) tensors shared by winner and loser: ``encoder_hidden_states`` (B, L, D) always
        (zeros when no text encoder was configured), optional ``audio_embeds`` (B, La, Da) (wav2vec2 features)
        and ``ref_latents`` (B, C, 1, H, W) (reference image).
    pair_id: list[str]; index: LongTensor (B,) row of the manifest (data position for checkpoints).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import torch

from storage.errors import CurateError, where
from storage.media import check_image, resolve_media_path
from storage.tables import cell, read_table

# build-pairs writes more (methods, candidate ids, rewards, margin); training needs only these
REQUIRED_COLUMNS = ["pair_id", "clip_id", "winner_video", "loser_video"]
# conditioning media: a column is either filled in every row or empty in every row (batches need one layout)
MEDIA_COLUMNS = ["image", "audio", "skeleton"]
OPTIONAL_COLUMNS = [*MEDIA_COLUMNS, "prompt"]
VIDEO_COLUMNS = ["winner_video", "loser_video"]
# the SFT phases read a plain video manifest (e.g. `curate export` of the real clips): one video per clip
VIDEO_MANIFEST_COLUMNS = ["clip_id", "video"]


def validate_manifest(path: str | Path, roots: list[str | Path] | None = None, kind: str = "pairs") -> pd.DataFrame:
    """Read a pair manifest (csv, jsonl or parquet) and check everything training will touch, before it starts.

    ``kind="videos"`` reads a plain video manifest instead (columns clip_id, video; optional image, audio,
    skeleton, prompt) for SFT: each row becomes an item whose winner and loser are the clip's video (SFT reads
    winners only), with ``pair_id`` = ``clip_id``.

    Checks: the required columns; non-empty, unique ``pair_id``; winner and loser videos differ; every video,
    image and audio path lies inside the roots, exists and decodes (decord for video and audio, Pillow for
    images); ``image``/``audio`` filled in all rows or none. Paths are relative to the manifest's folder.

    Args:
        path: the manifest file.
        roots: folders paths may point into, besides the manifest's folder. Default: the workspace that
            contains the manifest (the nearest parent with a ``curate.toml``): its folder and its media roots.

    Returns:
        The manifest with the media columns replaced by resolved absolute paths (None where empty);
        ``df.attrs["manifest"]`` holds the manifest path.

    Raises:
        CurateError: the first problem, naming the file, the row (from 1, header excluded) and the column.
    """
    path = Path(path).resolve()
    if kind not in ("pairs", "videos"):
        raise ValueError(f"manifest kind must be 'pairs' or 'videos'. Got {kind!r}.")
    videos = ["video"] if kind == "videos" else VIDEO_COLUMNS
    required = VIDEO_MANIFEST_COLUMNS if kind == "videos" else REQUIRED_COLUMNS
    df = read_table(path, required, OPTIONAL_COLUMNS).reset_index(drop=True)
    if kind == "videos":
        df["pair_id"] = df["clip_id"]
    root_paths = _default_roots(path) if roots is None else [Path(r).resolve() for r in roots]
    _check_ids(df, path, videos)
    _check_media_layout(df, path)
    lengths: dict[str, tuple[int, float, str]] = {}  # video file -> (frames, fps, first row/column naming it)
    decoded: dict[tuple[str, Path], tuple[int, float] | None] = {}  # (media, file) -> (frames, fps) of videos
    for i, rec in enumerate(df.to_dict("records")):
        for col in [*videos, *MEDIA_COLUMNS]:
            value = cell(rec.get(col))
            if value is None:
                continue  # only media columns can be empty here (_check_ids covers the videos)
            what = where(path, i + 1, col)
            resolved = resolve_media_path(value, path.parent, root_paths, what)
            media = "video" if col in videos else col
            if (media, resolved) not in decoded:
                decoded[(media, resolved)] = _check_decodes(media, resolved, what)
            if decoded[(media, resolved)] is not None:
                lengths.setdefault(str(resolved), (*decoded[(media, resolved)], what))
            df.at[i, col] = str(resolved)
        if kind == "pairs" and df.at[i, "winner_video"] == df.at[i, "loser_video"]:
            raise CurateError(f"{where(path, i + 1, 'loser_video')}: the loser is the winner's video.")
    for col in MEDIA_COLUMNS:
        df[col] = [cell(v) for v in df[col]]
    if kind == "videos":
        df["winner_video"] = df["loser_video"] = df["video"]
    df.attrs["manifest"] = str(path)
    df.attrs["video_lengths"] = lengths
    return df


def check_video_lengths(df: pd.DataFrame, num_frames: int, fps: float, policy: str = "pad") -> str | None:
    """Refuse (``policy`` 'refuse') or count ('pad') the videos too short for ``num_frames`` frames at ``fps``.

    Frame i is the source frame on screen at i / fps (``trainer.media_decode.frame_indices``); past the end the
    last frame repeats, which teaches a model to freeze. Returns the summary line for 'pad', or None.

    Raises:
        CurateError: with 'refuse', the first short video: its row, column, length and what is needed.
    """
    short = []
    for file, (n, src_fps, what) in df.attrs.get("video_lengths", {}).items():
        if src_fps <= 0:
            continue  # no rate in the container: decode_clip_frames cannot place frames in time either
        need = math.floor((num_frames - 1) / fps * src_fps + 1e-6) + 1  # source frames the last index reaches
        if n < need:
            short.append((n / src_fps, file, what, n, src_fps, need))
    if not short:
        return None
    shortest = min(short)
    _, file, what, n, src_fps, need = shortest
    seconds = num_frames / fps
    if policy == "refuse":
        raise CurateError(f"{what}: the video has {n} frames at {src_fps:g} fps ({n / src_fps:.2f} s); "
                          f"{num_frames} frames at {fps:g} fps need {need} ({seconds:.2f} s). Lower num_frames, "
                          f"or --set short_videos=pad to repeat its last frame ({len(short)} video(s) this short).")
    return (f"{len(short)} of {len(df.attrs['video_lengths'])} videos are shorter than {num_frames} frames at "
            f"{fps:g} fps ({seconds:.2f} s); their last frame repeats (short_videos: pad). Shortest: {file} "
            f"({n} frames at {src_fps:g} fps).")


def _default_roots(manifest: Path) -> list[Path]:
    from storage.workspace import CONFIG_NAME, WorkspaceError, load

    for folder in manifest.parents:
        if (folder / CONFIG_NAME).is_file():
            try:
                ws = load(folder)
            except WorkspaceError as e:
                raise CurateError(str(e)) from None
            return [ws.root, *ws.media_roots]
    return []


def _check_ids(df: pd.DataFrame, path: Path, videos: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, rec in enumerate(df.to_dict("records")):
        for col in ["pair_id", *videos]:
            if cell(rec.get(col)) is None:
                raise CurateError(f"{where(path, i + 1, col)}: empty.")
        pid = cell(rec["pair_id"])
        if pid in seen:
            raise CurateError(f"{where(path, i + 1, 'pair_id')}: duplicate pair_id {pid!r} (first in row {seen[pid]}).")
        seen[pid] = i + 1


def _check_media_layout(df: pd.DataFrame, path: Path) -> None:
    for col in MEDIA_COLUMNS:
        filled = [cell(v) is not None for v in df[col]]
        if any(filled) and not all(filled):
            row = filled.index(False) + 1
            raise CurateError(f"{where(path, row, col)}: empty, but other rows have one; fill it in every row "
                              "or in none (a batch needs the same conditioning for every pair).")


def _check_decodes(kind: str, p: Path, what: str) -> tuple[int, float] | None:
    """Check the file decodes; a video's (frame count, fps), else None."""
    if kind == "image":
        check_image(p, what)
        return None
    if kind == "skeleton":
        from trainer.motion.skeleton import is_keypoint_file, read_keypoints

        if is_keypoint_file(p):
            read_keypoints(p, 0, where=what)  # shape only; the frame count is checked when the cache is filled
            return None
        kind = "video"  # a rendered skeleton video: it must decode like the clips
    import decord

    try:
        if kind == "video":
            vr = decord.VideoReader(str(p))
            if len(vr) == 0:
                raise CurateError(f"{what}: video has no frames ({p}).")
            vr[0]  # decode one frame, not just the container header
            return len(vr), float(vr.get_avg_fps())
        else:
            ar = decord.AudioReader(str(p), sample_rate=16000, mono=True)  # stereo+resample is broken in decord
            if ar.shape[1] == 0:
                raise CurateError(f"{what}: audio has no samples ({p}).")
    except CurateError:
        raise
    except Exception as e:  # noqa: BLE001 - decord raises its own DECORDError subclasses
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CurateError(f"{what}: {kind} does not decode ({p}): {msg}") from None
    return None


class PairDataset(torch.utils.data.Dataset):
    """Items of the cached latents and conditioning of each manifest row (see the module docstring).

    Args:
        manifest_df: the manifest (from :func:`validate_manifest`); row ``i`` is item ``i``.
        cache_dir: the folder ``trainer.cache.prepare_cache`` wrote.
        index: the mapping ``prepare_cache`` returned; default: the ``index.json`` it wrote in ``cache_dir``.
    """

    def __init__(self, manifest_df: pd.DataFrame, cache_dir: str | Path, index: dict | None = None):
        self.cache_dir = Path(cache_dir)
        if index is None:
            index_file = self.cache_dir / "index.json"
            if not index_file.is_file():
                raise CurateError(f"{self.cache_dir}: no index.json; prepare the cache first "
                                  "(`curate train-dpo --prepare-only`).")
            index = json.loads(index_file.read_text())
        self.pairs: dict = index["pairs"]
        self.text_shape = index.get("text_shape")
        self.pair_ids = [str(p) for p in manifest_df["pair_id"]]
        missing = [p for p in self.pair_ids if p not in self.pairs]
        if missing:
            raise CurateError(f"{self.cache_dir}: pairs not in the cache: {missing[:5]} ({len(missing)} in all); "
                              "prepare the cache for this manifest first.")

    def __len__(self) -> int:
        return len(self.pair_ids)

    def __getitem__(self, i: int) -> dict:
        from trainer.cache import load_entry

        keys = self.pairs[self.pair_ids[i]]
        cond = {}
        if keys.get("text"):
            cond["encoder_hidden_states"] = load_entry(self.cache_dir, keys["text"])["encoder_hidden_states"]
        else:  # no text encoder configured: zeros of the model's text dims (recorded at prepare time)
            cond["encoder_hidden_states"] = torch.zeros(self.text_shape)
        if keys.get("audio"):
            cond["audio_embeds"] = load_entry(self.cache_dir, keys["audio"])["audio_embeds"]
        if keys.get("image"):
            cond["ref_latents"] = load_entry(self.cache_dir, keys["image"])["latents"]
        if keys.get("clip"):
            cond["image_embeds"] = load_entry(self.cache_dir, keys["clip"])["image_embeds"]
        if keys.get("i2v"):
            cond["i2v_latents"] = load_entry(self.cache_dir, keys["i2v"])["latents"]
        if keys.get("vace"):  # a VACE model's context latents (trainer.motion.vace)
            cond["vace_latents"] = load_entry(self.cache_dir, keys["vace"])["vace_latents"]
        if keys.get("skeleton"):
            entry = load_entry(self.cache_dir, keys["skeleton"])
            cond["skeleton"] = next(entry[k] for k in ("keypoints", "frames", "latents") if k in entry)
        return {
            "latents_w": load_entry(self.cache_dir, keys["winner"])["latents"],
            "latents_l": load_entry(self.cache_dir, keys["loser"])["latents"],
            "cond": cond,
            "pair_id": self.pair_ids[i],
            "index": i,
        }


def collate_pairs(items: list[dict]) -> dict:
    """Stack items into the contract's batch dict; every item must carry the same cond keys and shapes."""
    if not items:
        raise ValueError("collate_pairs needs at least one item.")
    keys = set(items[0]["cond"])
    for it in items[1:]:
        if set(it["cond"]) != keys:
            raise ValueError(f"pair {it['pair_id']!r} has cond keys {sorted(it['cond'])}, "
                             f"pair {items[0]['pair_id']!r} has {sorted(keys)}.")
    return {
        "latents_w": _stack(items, lambda it: it["latents_w"], "latents_w"),
        "latents_l": _stack(items, lambda it: it["latents_l"], "latents_l"),
        "cond": {k: _stack(items, lambda it, k=k: it["cond"][k], k) for k in sorted(keys)},
        "pair_id": [it["pair_id"] for it in items],
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
    }


def _stack(items: list[dict], get, name: str) -> torch.Tensor:
    shapes = {tuple(get(it).shape) for it in items}
    if len(shapes) != 1:
        raise ValueError(f"{name}: items have different shapes {sorted(shapes)}; prepare the cache with one "
                         "frame count and size for every video.")
    return torch.stack([get(it).float() for it in items])
