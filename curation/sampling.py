"""``curate sample``: one video per clip from a trained run, resumable (clips with a video are skipped).

Writes ``<out>/<clip_id>.mp4`` (the clip's audio muxed in; temp name, then renamed) and ``<out>/<clip_id>.json``
with the clip, the run, the step, every sampling setting and the window seeds (the same JSON is in the mp4's
comment tag). Clips come from a clip manifest (the ``curate ingest`` format: clip_id, image, audio, prompt) or from
the workspace's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from storage.errors import CurateError


@dataclass(frozen=True)
class SampleClip:
    clip_id: str
    image: str
    audio: str
    prompt: str | None


@dataclass
class SampleReport:
    written: int = 0
    skipped: int = 0
    out: Path | None = None


def clips_from_manifest(path: str | Path, roots: list[Path] | None = None) -> list[SampleClip]:
    """Clips of a manifest in the ingest format (every image and audio checked, paths inside its folder/roots)."""
    from curation.ingest import validate_manifest

    return [SampleClip(r.clip_id, r.image_path, r.audio_path, r.prompt) for r in validate_manifest(path, roots or [])]


def clips_from_store(ws) -> list[SampleClip]:
    """Every clip of the workspace, in clip_id order."""
    from sqlalchemy import select

    from storage import Clip

    with ws.store() as store, store.session() as s:
        return [SampleClip(c.clip_id, c.image_path, c.audio_path, c.prompt)
                for c in s.scalars(select(Clip).order_by(Clip.clip_id))]


def video_path(out: Path, clip_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip_id)
    return out / f"{safe}.mp4"


def sample_clips(run_dir: str | Path, clips: list[SampleClip], out: str | Path, settings: dict,
                 step: int | None = None, progress: bool = True) -> SampleReport:
    """Sample every clip that has no video in ``out`` yet; the run loads only when there is work."""
    from tqdm import tqdm

    from trainer.sample_config import SampleConfig

    scfg = SampleConfig(**settings)
    out = Path(out)
    todo = [c for c in clips if not video_path(out, c.clip_id).is_file()]
    report = SampleReport(skipped=len(clips) - len(todo), out=out)
    if not todo:
        return report
    import torch

    from trainer.sample import load_run, sample_clip

    run = load_run(run_dir, step, "cuda" if torch.cuda.is_available() else "cpu")
    scfg.solver(run.cfg.model_kind)
    for clip in todo:
        bar = None

        def on_window(total, clip=clip):
            nonlocal bar
            bar = tqdm(total=total, desc=clip.clip_id, unit="step", disable=not progress, leave=False)
            return lambda: bar.update(1)

        target = video_path(out, clip.clip_id)
        try:
            meta = sample_clip(run, scfg, clip.image, clip.audio, clip.prompt, target, on_window=on_window)
        except CurateError as e:
            raise CurateError(f"clip {clip.clip_id!r}: {e}") from None
        finally:
            if bar is not None:
                bar.close()
        record = {"clip_id": clip.clip_id, "image": clip.image, "audio": clip.audio, "prompt": clip.prompt, **meta}
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(target.with_suffix(".json"))
        report.written += 1
    return report
