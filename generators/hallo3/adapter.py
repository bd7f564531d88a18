"""Hallo3 through its list-file batch mode: one ``sample_video.py`` call per batch, model loaded once.

Upstream facts (reference/baselines.md §5): lines ``prompt@@image@@audio``; outputs
``{out}/{image_stem}-{audio_stem}-seed_{seed}/000000_with_audio.mp4``; the shipped shell
script seeds with ``$RANDOM``, so we call ``sample_video.py`` directly with a fixed
``--seed``; SAT needs ``WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_WORLD_SIZE``.

Quirks handled: inputs are linked under unique names (``j<job>.png``/``.wav``) so two clips
whose files share a stem cannot collide; the working directory is the job's own folder
(with ``configs`` and ``pretrained_models`` linked in) so the vocal separator's
``.cache/`` is not shared between concurrent batches.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import build_config, clean_prompt, missing_paths, missing_python, stage
from generators.base import GenerationRequest, GenerationResult
from generators.hallo3.config import Hallo3Config

SAT_ENV = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1"}


class Hallo3Generator:
    kind = "upstream"

    def __init__(self, name: str, config: Hallo3Config):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists():
                missing += missing_paths([("Hallo3 weights", Path(c.weights) / "hallo3" / "1" / "mp_rank_00_model_states.pt")])
        return missing + missing_python(c.python, c.conda_env)

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for seed, group in groupby(sorted(requests, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.checkout) / "configs", wd / "configs")
        stage(Path(c.weights), wd / "pretrained_models")
        lines = []
        for r in reqs:
            img = stage(r.image_path, wd / "inputs" / f"{r.safe_id}{r.image_path.suffix}")
            wav = stage(r.audio_path, wd / "inputs" / f"{r.safe_id}{r.audio_path.suffix}")
            lines.append(f"{clean_prompt(r.prompt, c.default_prompt)}@@{img}@@{wav}")
        (wd / "input.txt").write_text("\n".join(lines) + "\n")
        out = wd / "output"
        cmd = [*python_command(c.python, c.conda_env), str(c.entry), "--base", *c.base_configs,
               "--seed", str(seed), "--input-file", str(wd / "input.txt"), "--output-dir", str(out), *c.extra_args]
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env={**SAT_ENV, **c.env}, timeout=c.timeout_s)
        except UpstreamError as e:
            return [GenerationResult(r.job_id, error=str(e)) for r in reqs]
        results = []
        for r in reqs:
            video = out / f"{r.safe_id}-{r.safe_id}-seed_{seed}" / "000000_with_audio.mp4"
            results.append(GenerationResult(r.job_id, raw_path=video) if video.is_file()
                           else GenerationResult(r.job_id, error=f"hallo3 wrote no {video.relative_to(wd)}"))
        return results


def make(name: str, settings: dict[str, Any], root: Path) -> Hallo3Generator:
    return Hallo3Generator(name, build_config(Hallo3Config, name, settings, root))
