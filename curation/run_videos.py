"""``curate sample``'s glue: the store's (or a manifest's) clips to videos from a trained run, resumable.

The sampling itself is ``trainer.generation``; this module picks the clips, skips those with a video, and runs the
trainer in process or as one ``python -m trainer.generation`` per GPU.

Writes ``<out>/<clip_id>.mp4`` (the clip's audio muxed in; temp name, then renamed) and ``<out>/<clip_id>.json``
with the clip, the run, the step, every sampling setting and the window seeds (the same JSON is in the mp4's
comment tag). Clips come from a clip manifest (the ``curate ingest`` format: clip_id, image, audio, prompt) or from
the workspace's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from storage.atomic import atomic_write_text
from storage.errors import CurateError


@dataclass(frozen=True)
class SampleClip:
    clip_id: str
    image: str
    audio: str
    prompt: str | None
    skeleton: str | None = None  # a rendered skeleton video: needed by a run with Hallo4's skeleton branch


@dataclass
class SampleReport:
    written: int = 0
    skipped: int = 0
    out: Path | None = None


def clips_from_manifest(path: str | Path, roots: list[Path] | None = None) -> list[SampleClip]:
    """Clips of a manifest in the ingest format (every image and audio checked, paths inside its folder/roots)."""
    from curation.ingest import validate_manifest

    return [SampleClip(r.clip_id, r.image_path, r.audio_path, r.prompt, r.skeleton_path)
            for r in validate_manifest(path, roots or [])]


def clips_from_store(ws) -> list[SampleClip]:
    """Every clip of the workspace, in clip_id order."""
    from sqlalchemy import select

    from storage import Clip

    with ws.store() as store, store.session() as s:
        return [SampleClip(c.clip_id, c.image_path, c.audio_path, c.prompt, c.skeleton_path)
                for c in s.scalars(select(Clip).order_by(Clip.clip_id))]


def video_path(out: Path, clip_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip_id)
    return out / f"{safe}.mp4"


def sample_clips(run_dir: str | Path, clips: list[SampleClip], out: str | Path, settings: dict,
                 step: int | None = None, progress: bool = True, gpus: list[str] | None = None) -> SampleReport:
    """Sample every clip that has no video in ``out`` yet; the run loads only when there is work.

    gpus: one ``python -m trainer.generation`` process per GPU id (``CUDA_VISIBLE_DEVICES``), clips dealt round-robin;
    without it, the run is loaded in this process."""
    from tqdm import tqdm

    from trainer.generation.settings import SampleConfig

    scfg = SampleConfig(**settings)
    out = Path(out)
    todo = [c for c in clips if not video_path(out, c.clip_id).is_file()]
    report = SampleReport(skipped=len(clips) - len(todo), out=out)
    if not todo:
        return report
    _check_skeletons(run_dir, todo)
    if gpus:
        report.written = _on_gpus(run_dir, step, todo, out, scfg, gpus, progress)
        return report
    import torch

    from trainer.generation.clip import sample_clip
    from trainer.generation.run_loader import load_run

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
            meta = sample_clip(run, scfg, clip.image, clip.audio, clip.prompt, target, on_window=on_window,
                               skeleton=clip.skeleton)
        except CurateError as e:
            raise CurateError(f"clip {clip.clip_id!r}: {e}") from None
        finally:
            if bar is not None:
                bar.close()
        _record(target, clip, meta)
        report.written += 1
    return report


def _check_skeletons(run_dir, clips: list[SampleClip]) -> None:
    """Every clip's skeleton video against its audio before anything loads (a mismatch found at clip 40 would
    leave 39 videos made from a run the user meant to fix)."""
    if not any(c.skeleton for c in clips):
        return
    from storage.media import audio_duration
    from trainer.motion.hallo4_media import check_fits_audio

    config = Path(run_dir) / "config.json"
    fps = float(json.loads(config.read_text()).get("fps", 16.0)) if config.is_file() else 16.0
    for c in clips:
        if c.skeleton:
            try:
                check_fits_audio(c.skeleton, audio_duration(Path(c.audio), f"clip audio {c.audio}"), fps)
            except CurateError as e:
                raise CurateError(f"clip {c.clip_id!r}: {e}") from None


def _record(target: Path, clip: SampleClip, meta: dict) -> None:
    record = {"clip_id": clip.clip_id, "image": clip.image, "audio": clip.audio, "prompt": clip.prompt, **meta}
    atomic_write_text(target.with_suffix(".json"), json.dumps(record, indent=1))


def _on_gpus(run_dir, step, todo: list[SampleClip], out: Path, scfg, gpus: list[str], progress: bool) -> int:
    """One ``python -m trainer.generation`` per GPU over its share of the clips; a bar over finished clips."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="curate-sample-") as tmp:
        return _run_gpus(Path(tmp), run_dir, step, todo, out, scfg, gpus, progress)


def _run_gpus(tmp: Path, run_dir, step, todo: list[SampleClip], out: Path, scfg, gpus: list[str],
              progress: bool) -> int:
    import os
    import subprocess
    import sys
    import time

    from tqdm import tqdm

    from trainer.generation.settings import SampleJob, SampleJobs

    procs = []
    for i, gpu in enumerate(gpus):
        share = todo[i::len(gpus)]
        if not share:
            continue
        spec, results = tmp / f"jobs-{i}.json", tmp / f"results-{i}.jsonl"
        SampleJobs(str(run_dir), step, scfg, [SampleJob(c.image, c.audio, c.prompt, scfg.seed,
                                                        str(video_path(out, c.clip_id)), skeleton=c.skeleton)
                                              for c in share],
                   results=str(results)).write(spec)
        with open(tmp / f"stderr-{i}.txt", "w") as err:  # a file, not a pipe: a full pipe would block the child
            proc = subprocess.Popen([sys.executable, "-m", "trainer.generation", str(spec)], stdout=subprocess.DEVNULL,
                                    stderr=err, env={**os.environ, "CUDA_VISIBLE_DEVICES": gpu})
        procs.append((proc, share, tmp / f"stderr-{i}.txt", results))
    by_out = {str(video_path(out, c.clip_id)): c for c in todo}
    rows: dict[str, dict] = {}
    with tqdm(total=len(todo), desc="sample", unit="clip", disable=not progress) as bar:
        while True:
            running = any(p.poll() is None for p, *_ in procs)
            for _p, _share, _err, results in procs:
                if results.is_file():
                    for line in results.read_text().splitlines():
                        row = json.loads(line)
                        if row["out"] not in rows:
                            rows[row["out"]] = row
                            bar.update(1)
            if not running:
                break
            time.sleep(0.2)
    failed = []
    for proc, _share, err_file, _results in procs:
        err = err_file.read_text().strip()
        if proc.returncode:
            failed.append(err.splitlines()[-1].removeprefix("Error: ") if err else f"exit status {proc.returncode}")
    written = 0
    for key, row in rows.items():
        if row["error"] is None:
            _record(Path(key), by_out[key], row["meta"])
            written += 1
        else:
            failed.append(f"clip {by_out[key].clip_id!r}: {row['error']}")
    if failed:
        raise CurateError(f"{failed[0]}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
    return written
