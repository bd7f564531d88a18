"""FantasyTalking through a small driver that runs in its environment and loads the 14B model once.

Upstream has no list mode, but ``infer.py`` splits ``load_models`` from ``main`` (which
returns the output path), so ``driver.py`` imports it and loops over the batch. The
output is named ``{image_stem}_{audio_stem}_{YYYYmmdd_HHMMSS}.mp4``; taking the path that
``main`` returns avoids guessing from timestamps.

Quirk: upstream stops at ``max_num_frames`` (81 at 23 fps, about 3.5 s) and cuts the audio
there; normalisation then trims the candidate to that length (shorter of video and audio),
so FantasyTalking candidates of longer clips are shorter than the others. Raise
``max_num_frames`` (4n+1) for longer clips, at the cost of lip-sync drift upstream reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import (
    build_config,
    clean_prompt,
    missing_files,
    missing_paths,
    missing_python,
    stage,
)
from generators.base import GenerationRequest, GenerationResult
from generators.fantasytalking.config import FantasyTalkingConfig

DRIVER = Path(__file__).with_name("driver.py")


class FantasyTalkingGenerator:
    kind = "upstream"

    def __init__(self, name: str, config: FantasyTalkingConfig):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists():
                missing += missing_files(self.weight_files())
        return missing + missing_python(c.python, c.conda_env)

    def weight_files(self) -> list[tuple[str, Path, str]]:
        """What ``load_models`` opens (infer.py:130-171): the 7 DiT shards, CLIP, T5 and VAE of
        Wan2.1-I2V-14B-720P, the FantasyTalking checkpoint and wav2vec2."""
        w = Path(self.config.weights)
        wan = w / "Wan2.1-I2V-14B-720P"
        names = [f"diffusion_pytorch_model-0000{i}-of-00007.safetensors" for i in range(1, 8)]
        names += ["models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth", "models_t5_umt5-xxl-enc-bf16.pth",
                  "Wan2.1_VAE.pth"]
        return [("FantasyTalking weights", w / "fantasytalking_model.ckpt", "file"),
                *[("Wan2.1-I2V-14B-720P", wan / n, "file") for n in names],
                ("wav2vec2", w / "wav2vec2-base-960h", "dir")]

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        c = self.config
        wd = workdir
        wd.mkdir(parents=True, exist_ok=True)
        jobs = []
        for r in requests:
            img = stage(r.image_path, wd / "inputs" / f"{r.safe_id}{r.image_path.suffix}")
            wav = stage(r.audio_path, wd / "inputs" / f"{r.safe_id}{r.audio_path.suffix}")
            jobs.append({"job_id": r.job_id, "image_path": str(img), "audio_path": str(wav), "seed": r.seed,
                         "prompt": clean_prompt(r.prompt, c.default_prompt), "output_dir": str(wd / "output" / r.safe_id)})
        (wd / "jobs.json").write_text(json.dumps(jobs, indent=1))
        results_file = wd / "results.json"
        cmd = [*python_command(c.python, c.conda_env), str(DRIVER), "--checkout", str(c.checkout),
               "--jobs", str(wd / "jobs.json"), "--results", str(results_file), *c.infer_args()]
        error = None
        try:
            run_logged(cmd, cwd=wd, log_path=wd / "upstream.log", env=c.env, timeout=c.timeout_s)
        except UpstreamError as e:
            error = str(e)  # jobs finished before the crash are still in results.json
        done = json.loads(results_file.read_text()) if results_file.is_file() else {}
        out = []
        for r in requests:
            res = done.get(str(r.job_id), {})
            path = Path(res["path"]) if res.get("path") else None
            if path is not None and path.is_file():
                out.append(GenerationResult(r.job_id, raw_path=path))
            else:
                out.append(GenerationResult(r.job_id, error=res.get("error") or error or "fantasytalking returned no video"))
        return out


def make(name: str, settings: dict[str, Any], root: Path) -> FantasyTalkingGenerator:
    return FantasyTalkingGenerator(name, build_config(FantasyTalkingConfig, name, settings, root))
