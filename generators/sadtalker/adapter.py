"""SadTalker, one ``inference.py`` call per clip (upstream has no batch mode; models reload each call).

Upstream facts (read at OpenTalker/SadTalker cd4c046): the result is always moved to
``{result_dir}/{YYYY_MM_DD_HH.MM.SS}.mp4`` (inference.py:90-91); the ``_full``/``_enhanced``
names exist only inside the timestamp folder, which is deleted (inference.py:94). The mapping
net is ``mapping_00109`` for ``*full`` preprocessing, else ``mapping_00229``
(src/utils/init_path.py:40-45). 25 fps with the audio already muxed in.

Quirks handled: every call gets its own folder and ``--result_dir``, so timestamp names
cannot clash; the inputs are staged inside that folder (a png written there, a wav link or
conversion: SadTalker's Python entry points move their inputs away, and moving a link leaves
the clip's own file in place); the output is the one mp4 that appears in the result folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import build_config, missing_files, missing_paths, missing_python
from generators.base import GenerationRequest, GenerationResult
from generators.sadtalker.config import SadTalkerConfig
from generators.staging import InputContract, StagingError, stage_inputs

# SadTalker crops the face itself and reads audio at 16 kHz (src/generate_batch.py); the
# portrait keeps its aspect because ``--preprocess full`` pastes the face back into it.
CONTRACT = InputContract(audio_rate=16000, image_aspect=None, frame_rate=25)


class SadTalkerGenerator:
    kind = "upstream"

    def __init__(self, name: str, config: SadTalkerConfig):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists():
                missing += missing_files([(f"SadTalker weights for {what}", Path(c.weights) / name, "file")
                                          for what, name in self.weight_files()])
            missing += missing_files([(f"SadTalker {what}", Path(c.checkout) / "gfpgan" / "weights" / name, "file")
                                      for what, name in self.face_files()])
        return missing + missing_python(c.python, c.conda_env)

    def weight_files(self) -> list[tuple[str, str]]:
        """(what for, file name) of each checkpoint inference.py loads with these settings."""
        c = self.config
        mapping = "mapping_00109-model.pth.tar" if "full" in c.preprocess else "mapping_00229-model.pth.tar"
        return [(f"size {c.size}", f"SadTalker_V0.0.2_{c.size}.safetensors"), (f"--preprocess {c.preprocess}", mapping)]

    def face_files(self) -> list[tuple[str, str]]:
        """(what for, file) under ``<checkout>/gfpgan/weights``, the cwd-relative folder facexlib would
        otherwise download into at run time (src/face3d/extract_kp_videos_safe.py:37-46;
        src/utils/face_enhancer.py:94; scripts/download_models.sh)."""
        files = [("face alignment (every clip)", "alignment_WFLW_4HG.pth"),
                 ("face detection (every clip)", "detection_Resnet50_Final.pth")]
        if self.config.enhancer:
            name = {"gfpgan": "GFPGANv1.4.pth", "RestoreFormer": "RestoreFormer.pth"}.get(self.config.enhancer)
            files += [(f"--enhancer {self.config.enhancer}", name)] if name else []
            files.append((f"--enhancer {self.config.enhancer} face parsing", "parsing_parsenet.pth"))
        return files

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        return [self._one(r, workdir / r.safe_id) for r in requests]

    def _one(self, r: GenerationRequest, wd: Path) -> GenerationResult:
        c = self.config
        try:
            staged = stage_inputs(r, wd / "inputs", CONTRACT, wd.parent / "upstream.log")
        except StagingError as e:
            return GenerationResult(r.job_id, error=str(e))
        img, wav = staged.image, staged.audio
        results = wd / "results"
        results.mkdir(parents=True, exist_ok=True)
        cmd = [*python_command(c.python, c.conda_env), str(c.entry), "--driven_audio", str(wav),
               "--source_image", str(img), "--result_dir", str(results), "--checkpoint_dir", str(c.weights),
               "--size", str(c.size), "--preprocess", c.preprocess]
        if c.still:
            cmd.append("--still")
        if c.enhancer:
            cmd += ["--enhancer", c.enhancer]
        cmd += c.extra_args
        try:
            # cwd = the checkout: SadTalker resolves its src/config files relative to it.
            run_logged(cmd, cwd=Path(c.checkout), log_path=wd.parent / "upstream.log", env=c.env, timeout=c.timeout_s)
        except UpstreamError as e:
            return GenerationResult(r.job_id, error=str(e))
        # The one {timestamp}.mp4 in this call's own result folder (inference.py:90-91).
        videos = sorted(results.glob("*.mp4"))
        if not videos:
            return GenerationResult(r.job_id, error=f"sadtalker wrote no {{timestamp}}.mp4 in {results}")
        return GenerationResult(r.job_id, raw_path=videos[-1])


def make(name: str, settings: dict[str, Any], root: Path) -> SadTalkerGenerator:
    return SadTalkerGenerator(name, build_config(SadTalkerConfig, name, settings, root))
