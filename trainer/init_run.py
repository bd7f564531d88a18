"""What a run started with ``--init RUN`` inherits from RUN, and the conflicts refused before any work.

The settings below decide the shape of the motion module (and of what the cache feeds it). A run that starts from
another run's model must use the same ones, or its first step fails on a shape (after a cache fill that takes hours
at real scale). They come from the init run's ``final/dpo_config.json`` (or its ``config.json``); a folder made by
``curate convert`` has only ``final/motion/motion_config.json``, from which they are worked out. A setting the
new run leaves at its default is taken over; one it sets (preset, ``--config``, ``--set``, flags) to another value
is refused with one line naming both values.

Only JSON files are read here: no torch, no weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# every config key that changes the motion module's weights' shapes or what the cache gives it
SHAPING = ("model_kind", "audio_layers", "audio_window", "audio_projection", "audio_ablation", "skeleton_input",
           "skeleton_channels", "skeleton_stride", "skeleton_ablation", "reference_image", "motion")


def init_settings(run: str | Path) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """(shaping settings of the run's final model, its motion config or None, the file they were read from)."""
    run = Path(run).expanduser()
    final = run / "final"
    if not final.is_dir():
        raise ValueError(f"--init {run}: no final/ folder (not a finished run; a run still training has only "
                         "checkpoints/).")
    motion = _read_json(final / "motion" / "motion_config.json") \
        or _read_json(final / "denoiser" / "motion_config.json")
    for name in ("final/dpo_config.json", "config.json"):
        saved = _read_json(run / name)
        if saved is not None:
            settings = {k: saved[k] for k in SHAPING if k in saved}
            settings["audio_encoder_path"] = saved.get("audio_encoder_path", "")
            return settings, motion, str(run / name)
    if motion is None:
        raise ValueError(f"--init {run}: neither final/dpo_config.json nor final/motion/motion_config.json: not a "
                         "run folder written by curate train-dpo / train-sft / convert.")
    return _from_motion(motion), motion, str(final / "motion" / "motion_config.json")


def _from_motion(m: dict[str, Any]) -> dict[str, Any]:
    """The settings a converted motion module implies (audio_layers needs the encoder: see check_audio_width)."""
    out: dict[str, Any] = {}
    if m.get("kind"):
        out["model_kind"] = m["kind"]
    if m.get("audio_dim"):
        out["audio_projection"] = m.get("audio_projection", "linear")
        out["audio_window"] = (int(m.get("audio_window_tokens", 5)) - 1) // 2
        out["audio_ablation"] = "full" if m.get("audio_ablation", "full") == "full" else "audio" + m["audio_ablation"]
    if m.get("skeleton_joints"):
        hallo4 = m.get("skeleton_projection") == "hallo4"
        out["skeleton_input"] = "vae" if hallo4 else "maps"
        if not hallo4:
            out["skeleton_channels"] = int(m.get("skeleton_channels", 32))
            out["skeleton_stride"] = int(m.get("skeleton_stride", 4))
        ablation = m.get("skeleton_ablation", "full")
        out["skeleton_ablation"] = "full" if ablation == "full" else "skeleton" + ablation
    return out


def inherit(values: dict[str, Any], sources: dict[str, str], coerce) -> dict[str, Any]:
    """``values`` (what the new run sets, layer by layer) with the init run's shaping settings filled in.

    Args:
        values: the explicit settings (preset, YAML, overrides, flags), ``init_from`` among them.
        sources: where each explicit key came from, for the message.
        coerce: ``(key, value) -> value`` as the config would store it (YAML ints for floats, etc.).

    Raises:
        ValueError: one line naming the setting, both values and where the new one came from.
    """
    run = values["init_from"]
    settings, motion, where = init_settings(run)
    out = dict(values)
    for key, old in settings.items():
        if key == "audio_encoder_path":
            continue
        if key in values and coerce(key, values[key]) != old:
            raise ValueError(f"--init {run} was trained with {key} {old!r} ({where}); this run sets {key} "
                             f"{coerce(key, values[key])!r} ({sources.get(key, 'command line')}). A run started "
                             f"with --init keeps every setting that shapes the motion module: drop that setting, "
                             f"or start without --init.")
        out[key] = old
    if motion and motion.get("audio_dim"):
        encoder = out.get("audio_encoder_path") or settings.get("audio_encoder_path") or ""
        if not encoder:  # a library caller's own dataset; the commands need one (require_audio_encoder)
            return out
        out["audio_encoder_path"] = encoder
        layers = check_audio_width(run, motion["audio_dim"], out["audio_encoder_path"],
                                   out.get("audio_layers", settings.get("audio_layers")))
        if "audio_layers" in values and coerce("audio_layers", values["audio_layers"]) != layers:
            raise ValueError(f"--init {run}: its motion module takes audio features of width {motion['audio_dim']} "
                             f"(audio_layers {layers!r} with {out['audio_encoder_path']}); this run sets audio_layers "
                             f"{values['audio_layers']!r} ({sources.get('audio_layers', 'command line')}).")
        out["audio_layers"] = layers
    return out


def require_audio_encoder(cfg) -> None:
    """A command run from an init run with an audio branch needs wav2vec2 features in its cache."""
    if not cfg.init_from or cfg.audio_encoder_path:
        return
    _, motion, _ = init_settings(cfg.init_from)
    if motion and motion.get("audio_dim"):
        raise ValueError(f"--init {cfg.init_from} has an audio branch (audio features of width {motion['audio_dim']}):"
                         " pass --audio-encoder, the wav2vec2 folder it was trained with.")


def check_audio_width(run, width: int, encoder: str, layers: str | None) -> str:
    """The ``audio_layers`` ('last' or 'all') under which ``encoder`` gives features of ``width``; refuse when
    neither does (another wav2vec2 than the one the module was trained with)."""
    from trainer.encoders import check_encoder_folder

    config = check_encoder_folder(encoder, "audio")
    hidden, n = int(config.get("hidden_size", 0)), int(config.get("num_hidden_layers", 0))
    widths = {"last": hidden, "all": hidden * n}
    fits = [k for k, w in widths.items() if w == width]
    if not fits:
        raise ValueError(f"--init {run}: its motion module takes audio features of width {width}, but "
                         f"--audio-encoder {encoder} gives {hidden} (last layer) or {n} x {hidden} = {hidden * n} "
                         "(all layers): not the wav2vec2 it was trained with.")
    return layers if layers in fits else fits[0]


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not readable JSON ({e}).") from None
    return data if isinstance(data, dict) else None
