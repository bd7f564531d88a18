"""What a run folder must hold before anything in it is loaded (torch-free: ``curate generators check`` uses it).

A run folder may come from anywhere, so its ``config.json`` is read like a user's config: validated by
``DiffusionDPOConfig``, sizes capped (a crafted width of 100000 would allocate tens of GB), and every model path
must be a local folder with a ``config.json`` (nothing is downloaded: loaders run with ``local_files_only`` and
``HF_HUB_OFFLINE``). Each problem is one line naming the file and the key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from storage.errors import CurateError

# Keys of config.json that name a local model folder (from_pretrained / save_pretrained layout).
MODEL_FOLDERS = ("denoiser_path", "vae_path", "text_encoder_path", "audio_encoder_path", "image_encoder_path")
MAX_SIDE = 2048  # pixels: the sampler allocates latents of height x width x frames
MAX_FRAMES = 1024


def go_offline() -> None:
    """Hugging Face libraries in this process never reach the hub (on top of ``local_files_only`` per call)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def read_run_config(run_dir: Path):
    """The run's config, validated; a CurateError naming ``config.json`` and the key otherwise."""
    from trainer.dpo_config import DiffusionDPOConfig

    path = run_dir / "config.json"
    if not path.is_file():
        raise CurateError(f"run {run_dir}: not a run folder (no config.json; pass what --output named).")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CurateError(f"{path}: not readable JSON ({e}).") from None
    if not isinstance(data, dict):
        raise CurateError(f"{path}: holds a {type(data).__name__}, not a run config (a JSON object).")
    try:
        cfg = DiffusionDPOConfig(**data)
    except (TypeError, ValueError) as e:
        raise CurateError(f"{path}: config.json is not a run config: {e}") from None
    for key, cap in (("height", MAX_SIDE), ("width", MAX_SIDE), ("num_frames", MAX_FRAMES)):
        if getattr(cfg, key) > cap:
            raise CurateError(f"{path}: {key} = {getattr(cfg, key)} is more than {cap}; not a run this sampler "
                              "will allocate.")
    return cfg


def model_folder_problems(run_dir: Path, cfg, step: int | None) -> list[str]:
    """One line per model path in config.json that is not a local model folder."""
    path = run_dir / "config.json"
    out = []
    full = step is None and (run_dir / "final" / "denoiser").is_dir()  # a fully trained denoiser needs no base
    for key in MODEL_FOLDERS:
        value = getattr(cfg, key)
        if not value and key == "denoiser_path" and not full:
            out.append(f"{path}: denoiser_path is empty; the run's LoRA/motion module needs its base model.")
        elif value and not (Path(value).expanduser() / "config.json").is_file():
            out.append(f"{path}: {key} = {value!r} is not a local model folder (no config.json in it); nothing "
                       "is downloaded.")
    if cfg.init_from and not (Path(cfg.init_from) / "final").is_dir():
        out.append(f"{path}: init_from = {cfg.init_from!r} is not a finished run folder (no final/).")
    return out


def check_run(run_dir: str | Path, step: int | None = None) -> list[str]:
    """Everything that would stop :func:`trainer.generation.run_loader.load_run`, found without loading a model."""
    run_dir = Path(run_dir)
    try:
        cfg = read_run_config(run_dir)
    except CurateError as e:
        return [str(e)]
    return model_folder_problems(run_dir, cfg, step)


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer.generation.run_check RUN [STEP]``: one line per problem on stdout; exit 1 if any."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        print("usage: python -m trainer.generation.run_check RUN [STEP]", file=sys.stderr)
        return 2
    problems = check_run(argv[0], int(argv[1]) if len(argv) == 2 else None)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
