"""``DiffusionDPOConfig``: every setting of ``curate train-dpo``, with presets and YAML/CLI loading.

Precedence, lowest first: dataclass defaults, a preset (``paper``, ``tiny``), a YAML file (which may name a
``preset:`` itself), then CLI overrides (``--set key=value``). Unknown keys are an error at every layer.

Beta convention: ``beta`` multiplies the error differences with NO 0.5 factor (Hallo4 eq. 5, diffusers' research
script). The paper's beta 2500 equals beta 5000 in the original Diffusion-DPO (Salesforce) code, which uses
``-0.5 * beta``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_KINDS = ("wan", "unet")
MODES = ("dpo", "sft", "plain")
LOSS_TYPES = ("sigmoid", "hinge", "ipo", "robust")
REFERENCES = ("lora", "frozen_copy")
PRECISIONS = ("no", "bf16")
WEIGHTINGS = ("none", "logit_normal", "bsmntw", "sigma_sqrt", "cosmap", "eps_equivalent")
PREDICTION_TYPES = ("epsilon", "v_prediction")
PHASES = ("", "audio", "skeleton")
MOTION = ("auto", "off")
REFERENCE_IMAGES = ("none", "vace", "i2v")
AUDIO_ABLATIONS = ("full", "audio/2", "audio/4")  # table 6
SKELETON_ABLATIONS = ("full", "skeleton/2", "skeleton/4")  # table 7


def _f(default, help: str):
    """A dataclass field with an immutable default and its one line of help."""
    return field(default=default, metadata={"help": help})


@dataclass
class DiffusionDPOConfig:
    """Diffusion-DPO fine-tuning of a video diffusion model on a pair manifest (Hallo4 sec. 3.2, 3.5, table 8).

    Model: ``model_kind``, ``denoiser_path``, ``vae_path``, ``text_encoder_path``, ``text_length``,
        ``audio_encoder_path``, ``audio_layers`` (the encoders only run when the cache is prepared).
    Objective: ``mode``, ``loss_type``, ``beta``, ``label_smoothing``, ``shift``, ``weighting``,
        ``prediction_type``, ``num_train_timesteps``.
    Reference and trainable weights: ``reference`` (``lora``: a LoRA is trained and the reference is the base with
        the adapter disabled; ``frozen_copy``: every weight is trained and the reference is a frozen deep copy),
        ``lora_rank``, ``lora_alpha``, ``lora_targets``. In ``sft``/``plain`` mode no reference is built but
        ``reference`` still picks LoRA or full training.
    Optimisation: ``learning_rate``, ``warmup_steps``, ``max_steps``, ``batch_size`` (pairs per optimizer step over
        all processes), ``gradient_accumulation_steps``, ``weight_decay``, ``adam_beta1/2``, ``adam_epsilon``,
        ``max_grad_norm``, ``gradient_checkpointing``, ``mixed_precision``, ``seed``.
    Data: ``num_frames``, ``height``, ``width``, ``fps``, ``cache_dir``, ``num_workers``.
    Output: ``output_dir``, ``checkpoint_every``, ``keep_checkpoints``, ``log_every``.
    """

    # model
    model_kind: str = _f("wan", "Denoiser family: 'wan' (flow-matching DiT) or 'unet' (epsilon UNet2D, frames folded).")
    denoiser_path: str = _f("", "Local diffusers folder of the WanTransformer3DModel / UNet2DConditionModel.")
    vae_path: str = _f("", "Local diffusers folder of the AutoencoderKLWan / AutoencoderKL (used by the cache).")
    text_encoder_path: str = _f("", "Local T5/UMT5/CLIP text encoder + tokenizer; '' = zero prompt embeddings.")
    text_length: int = _f(512, "Prompt embedding length L (Wan2.1: 512; SD1.5: 77).")
    audio_encoder_path: str = _f("", "Local wav2vec2 folder for audio features; '' = no audio features.")
    image_encoder_path: str = _f("", "Local CLIPVisionModel folder: penultimate-layer embeddings of the reference "
                                 "image for a Wan I2V model's image_dim ('' = none).")
    audio_layers: str = _f("last", "wav2vec2 features: 'last' hidden state or 'all' layers stacked (Hallo4).")
    audio_features: str = _f("hidden", "'hidden': wav2vec2 at 50 Hz, hidden states resampled to the frames; "
                             "'hallo4': CNN features resampled to the frames (align_corners=True) before the "
                             "transformer, as Hallo4 (its preset).")
    audio_window: int = _f(2, "Audio feature of each video frame carries its +-w neighbouring frames (Hallo4: 2).")
    # portrait conditioning (sec. 3.3-3.5)
    motion: str = _f("auto", "'auto': attach a motion module (eq. 6-8) when batches carry audio/skeleton and the "
                     "model has none; 'off': train without them.")
    audio_projection: str = _f("linear", "Eq. 7 per token ('linear') or Hallo4's window MLP ('mlp', 32 tokens "
                               "per video frame).")
    audio_ablation: str = _f("full", "Eq. 6 (rho*D audio tokens per latent frame) or table 6's 'audio/2', 'audio/4'.")
    skeleton_ablation: str = _f("full", "Eq. 6 for the skeleton, or table 7's 'skeleton/2', 'skeleton/4'.")
    skeleton_channels: int = _f(32, "d_k: channels of the skeleton encoder.")
    skeleton_stride: int = _f(4, "Skeleton tokens on the latent grid downsampled by 1, 2 or 4.")
    skeleton_input: str = _f("maps", "A rendered skeleton video cached as colour maps on the latent grid ('maps') or "
                             "as each frame's VAE latents ('vae': Hallo4's pose input, for a converted pose_proj).")
    skeleton_framing: str = _f("cover", "How a rendered skeleton video meets height x width: 'cover' (scale to cover, crop "
                               "the centre, as every video) or 'fit_height' (Hallo4: scale to the height, pad the "
                               "width with black or crop its centre).")
    vocal_separator: str = _f("", "Hallo4's MDX-Net vocal model (Kim_Vocal_2.onnx) run with onnxruntime on each "
                              "audio before wav2vec2 (trainer.motion.vocal_separation); '' = skipped, with a note "
                              "when audio_features is 'hallo4'.")
    audio_dropout: float = _f(0.05, "SFT: share of samples trained with zeroed audio (audio CFG at sampling).")
    reference_image: str = _f("none", "'vace': the reference latent is prepended as an extra latent frame (left "
                              "out of the loss); 'i2v': [x_t, mask, latent of [image, grey]] in channels (a "
                              "36-channel Wan I2V model); 'none': not fed.")
    phase: str = _f("", "Phased SFT (sec. 3.5): 'audio' or 'skeleton' trains only that motion branch ('' = off).")
    precompute_reference: bool = _f(False, "DPO: reference errors computed once per (pair, draw) and reused "
                                    "(no reference forward per step; runs differing only in beta share them).")
    reference_draws: int = _f(4, "With precompute_reference: fixed (noise, t) draws per pair; a step picks one.")
    init_from: str = _f("", "A finished run folder: policy AND reference start from its final/ (pi_ref = SFT).")
    # objective
    mode: str = _f("dpo", "'dpo' (pairs), 'sft' (winners only: table 8 baseline) or 'plain' (every video).")
    loss_type: str = _f("sigmoid", "DPO loss: 'sigmoid' (eq. 5), 'hinge', 'ipo' or 'robust'.")
    beta: float = _f(2500.0, "DPO beta, NO 0.5 factor: paper 2500 == original Diffusion-DPO code's 5000.")
    label_smoothing: float = _f(0.0, "Assumed label-flip rate for 'sigmoid' (cDPO) and 'robust', in [0, 0.5).")
    shift: float = _f(5.0, "Flow-matching sigma shift (Wan trains with 5; 1 = no shift). Ignored by 'unet'.")
    weighting: str = _f("none", "w_t / timestep density of eq. 5: " + ", ".join(WEIGHTINGS) + ".")
    weight_cap: float = _f(100.0, "Clamp w_t to at most this (0 = no cap): sigma_sqrt reaches ~4e4 at shift 5 and "
                           "saturates the sigmoid.")
    prediction_type: str = _f("epsilon", "UNet target: 'epsilon' or 'v_prediction'. Ignored by 'wan'.")
    num_train_timesteps: int = _f(1000, "Length of the training noise schedule.")
    # reference and trainable weights
    reference: str = _f("lora", "'lora' (train a LoRA, reference = adapter off) or 'frozen_copy' (full + copy).")
    lora_rank: int = _f(16, "LoRA rank r.")
    lora_alpha: float = _f(16.0, "LoRA alpha (scale = alpha / r).")
    lora_targets: list = field(default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"],
                               metadata={"help": "Module names that get LoRA layers."})
    # optimisation
    learning_rate: float = _f(1e-8, "AdamW peak learning rate (paper: 1e-8; see docs/trainer.md on scale_lr).")
    warmup_steps: int = _f(2500, "Linear warm-up: optimizer step s (from 0) uses lr * (s + 1) / warmup_steps, then lr.")
    max_steps: int = _f(12000, "Optimizer steps to train.")
    batch_size: int = _f(8, "Pairs per optimizer step over all processes and accumulation micro-steps.")
    gradient_accumulation_steps: int = _f(1, "Micro-steps per optimizer step.")
    weight_decay: float = _f(0.01, "AdamW weight decay.")
    adam_beta1: float = _f(0.9, "AdamW beta1.")
    adam_beta2: float = _f(0.999, "AdamW beta2.")
    adam_epsilon: float = _f(1e-8, "AdamW epsilon.")
    max_grad_norm: float = _f(1.0, "Clip the gradient norm to this (0 = no clipping).")
    gradient_checkpointing: bool = _f(False, "Recompute activations in the backward pass to save memory.")
    mixed_precision: str = _f("no", "'no' or 'bf16' (autocast; applied on GPU only, CPU runs float32).")
    seed: int = _f(0, "Seed of the data order, the noise and the weights' RNG.")
    # data
    num_frames: int = _f(81, "Frames per video fed to the VAE (Wan needs 4k+1).")
    height: int = _f(480, "Frame height in pixels (multiple of 16).")
    width: int = _f(832, "Frame width in pixels (multiple of 16).")
    fps: float = _f(16.0, "Frame rate the videos are resampled to before encoding.")
    short_videos: str = _f("pad", "A video shorter than num_frames / fps: 'pad' (its last frame repeats; one "
                           "summary line counts them) or 'refuse' (one line naming it, before the cache fill).")
    cache_dir: str = _f("", "Latent cache folder; '' = <manifest folder>/latent-cache (shared across runs).")
    num_workers: int = _f(0, "DataLoader worker processes.")
    # output
    output_dir: str = _f("runs/dpo", "Run folder: checkpoints/, logs/ (TensorBoard), final/.")
    checkpoint_every: int = _f(500, "Save a resumable checkpoint every N optimizer steps (0 = only at the end).")
    keep_checkpoints: int = _f(3, "Keep the newest N checkpoints (0 = keep all).")
    log_every: int = _f(10, "Log metrics every N optimizer steps.")

    def __post_init__(self) -> None:
        self._coerce_types()
        _choice("model_kind", self.model_kind, MODEL_KINDS)
        _choice("mode", self.mode, MODES)
        _choice("loss_type", self.loss_type, LOSS_TYPES)
        _choice("reference", self.reference, REFERENCES)
        _choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _choice("weighting", self.weighting, WEIGHTINGS)
        _choice("prediction_type", self.prediction_type, PREDICTION_TYPES)
        _choice("audio_layers", self.audio_layers, ("last", "all"))
        _choice("motion", self.motion, MOTION)
        _choice("audio_features", self.audio_features, ("hidden", "hallo4"))
        _choice("audio_ablation", self.audio_ablation, AUDIO_ABLATIONS)
        _choice("audio_projection", self.audio_projection, ("linear", "mlp"))
        _choice("skeleton_ablation", self.skeleton_ablation, SKELETON_ABLATIONS)
        _choice("skeleton_input", self.skeleton_input, ("maps", "vae"))
        _choice("skeleton_framing", self.skeleton_framing, ("cover", "fit_height"))
        _choice("reference_image", self.reference_image, REFERENCE_IMAGES)
        _choice("phase", self.phase, PHASES)
        _choice("short_videos", self.short_videos, ("refuse", "pad"))
        _check(not self.phase or self.mode == "sft", f"`phase` {self.phase!r} trains with flow matching on videos: "
               f"it needs mode 'sft'. Got mode {self.mode!r}.")
        _check(self.reference_image == "none" or self.model_kind == "wan",
               f"`reference_image` {self.reference_image!r} is for Wan. Got model_kind {self.model_kind!r}.")
        _check(0 <= self.audio_dropout < 1, f"`audio_dropout` must be in [0, 1). Got {self.audio_dropout}.")
        _check(self.audio_window >= 0, f"`audio_window` must be >= 0. Got {self.audio_window}.")
        _check(self.skeleton_channels >= 1 and self.skeleton_stride in (1, 2, 4),
               f"`skeleton_channels` must be >= 1 and `skeleton_stride` 1, 2 or 4. Got {self.skeleton_channels}, "
               f"{self.skeleton_stride}.")
        for name in ("beta", "learning_rate", "lora_alpha", "shift", "fps"):
            _check(getattr(self, name) > 0, f"`{name}` must be > 0. Got {getattr(self, name)}.")
        for name in ("reference_draws", "lora_rank", "max_steps", "batch_size", "gradient_accumulation_steps", "log_every",
                     "num_train_timesteps", "num_frames", "height", "width", "text_length"):
            _check(getattr(self, name) >= 1, f"`{name}` must be >= 1. Got {getattr(self, name)}.")
        for name in ("weight_cap", "warmup_steps", "weight_decay", "max_grad_norm", "checkpoint_every", "keep_checkpoints",
                     "num_workers", "adam_epsilon"):
            _check(getattr(self, name) >= 0, f"`{name}` must be >= 0. Got {getattr(self, name)}.")
        _check(0 <= self.label_smoothing < 0.5, f"`label_smoothing` must be in [0, 0.5). Got {self.label_smoothing}.")
        _check(not (self.label_smoothing and self.loss_type in ("hinge", "ipo")),
               f"`label_smoothing` applies to 'sigmoid' and 'robust' only. Got loss_type {self.loss_type!r}.")
        for name in ("adam_beta1", "adam_beta2"):
            _check(0 <= getattr(self, name) < 1, f"`{name}` must be in [0, 1). Got {getattr(self, name)}.")
        _check(self.batch_size % self.gradient_accumulation_steps == 0,
               f"`batch_size` must be a multiple of `gradient_accumulation_steps`. "
               f"Got {self.batch_size} and {self.gradient_accumulation_steps}.")
        _check(bool(self.lora_targets), "`lora_targets` must name at least one module. Got [].")
        if self.model_kind == "wan":
            _check((self.num_frames - 1) % 4 == 0, f"`num_frames` must be 4k+1 for Wan. Got {self.num_frames}.")
        for name in ("height", "width"):
            _check(getattr(self, name) % 16 == 0, f"`{name}` must be a multiple of 16. Got {getattr(self, name)}.")

    def _coerce_types(self) -> None:
        """YAML and ``--set`` give ints for floats and strings for lists; normalise before checking."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = _field_kind(f)
            try:
                if kind is bool and isinstance(value, str):
                    value = _parse_bool(f.name, value)
                elif kind is float and isinstance(value, (int, str)) and not isinstance(value, bool):
                    value = float(value)
                elif kind is int and isinstance(value, str):
                    value = int(value)
                elif kind is list and isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                elif kind is list and isinstance(value, tuple):
                    value = list(value)
                elif kind is str and value is None:
                    value = ""
            except ValueError:
                raise ValueError(f"`{f.name}` must be {kind.__name__}. Got {value!r}.") from None
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
            _check(ok, f"`{f.name}` must be {kind.__name__}. Got {value!r}.")
            setattr(self, f.name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def uses_reference(self) -> bool:
        """A live reference model is needed (DPO without precomputed reference errors)."""
        return self.mode == "dpo" and not self.precompute_reference

    @property
    def uses_lora(self) -> bool:
        return self.reference == "lora"


PRESETS: dict[str, dict[str, Any]] = {
    # Hallo4 sec. 4.1: AdamW, lr 1e-8, 2,500 warm-up steps, beta 2500, global batch 8, 12k iterations. The paper
    # does not say whether the DPO phase trains all weights; lr 1e-8 only makes sense for a full fine-tune.
    # Nor does it say which error its beta multiplies: 2500 is Diffusion-DPO's value for epsilon errors, so the
    # preset weights velocity errors back to epsilon scale (w_t = (1 - sigma)^2; raw velocity errors would make
    # beta ~36x hotter at shift 5's median sigma).
    "paper": dict(model_kind="wan", mode="dpo", loss_type="sigmoid", beta=2500.0, weighting="eps_equivalent",
                  learning_rate=1e-8,
                  warmup_steps=2500, max_steps=12000, batch_size=8, reference="frozen_copy", shift=5.0,
                  mixed_precision="bf16", gradient_checkpointing=True, num_frames=81, height=480, width=832,
                  fps=16.0, checkpoint_every=500, log_every=10),
    # CPU smoke run on tiny models: seconds, not hours.
    "tiny": dict(text_length=8, beta=500.0, learning_rate=1e-3, warmup_steps=2, max_steps=10, batch_size=2, lora_rank=4,
                 lora_alpha=4.0, mixed_precision="no", gradient_checkpointing=False, num_frames=9, height=32,
                 width=32, fps=8.0, checkpoint_every=5, log_every=1),
}


def field_help() -> dict[str, str]:
    """``{field: help}`` for every config key (used by ``--help`` and the docs)."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(DiffusionDPOConfig)}


def load_config(preset: str | None = None, config_file: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> DiffusionDPOConfig:
    """Build a config: defaults < preset < YAML file (may name ``preset:``) < overrides. Unknown keys raise.

    Raises:
        ValueError: unknown preset or key, or a value ``DiffusionDPOConfig`` rejects.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}  # where each set key came from, for --init conflicts
    config_file = resolve_config_path(config_file) if config_file else None
    file_values = _read_yaml(config_file) if config_file else {}
    file_preset = file_values.pop("preset", None)
    for name in (file_preset, preset):
        if name is not None:
            if name not in PRESETS:
                raise ValueError(f"Unknown preset {name!r}. Choose from {sorted(PRESETS)}.")
            values.update(PRESETS[name])
            sources.update(dict.fromkeys(PRESETS[name], f"preset {name}"))
    where = f" in {config_file}" if config_file else ""
    values.update(_checked(file_values, where))
    sources.update(dict.fromkeys(file_values, str(config_file)))
    values.update(_checked(overrides or {}, " in the command-line overrides"))
    sources.update(dict.fromkeys(overrides or {}, "command line"))
    if values.get("init_from"):
        # a run started from another one takes over what shapes its motion module (trainer.init_run)
        from trainer.init_run import inherit

        values = inherit(values, sources, _coerce_one)
    return DiffusionDPOConfig(**values)


def _coerce_one(key: str, value: Any) -> Any:
    """``value`` as the config stores ``key`` (``audio_window: "2"`` -> 2), for comparing layers."""
    return getattr(DiffusionDPOConfig(**{key: value}), key) if key != "init_from" else value


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["beta=500", "lora_targets=to_q,to_k"]`` -> ``{"beta": 500, "lora_targets": "to_q,to_k"}`` (YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"An override must look like key=value. Got {item!r}.")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def resolve_config_path(value: str | Path) -> Path:
    """A YAML path, or the name of a shipped config (``paper``, ``wan_lora``, ... in ``trainer/configs``)."""
    path = Path(value)
    if path.is_file():
        return path
    shipped = Path(__file__).parent / "configs" / f"{path.stem}.yaml"
    if path.suffix in ("", ".yaml") and path.parent == Path(".") and shipped.is_file():
        return shipped
    names = sorted(p.stem for p in (Path(__file__).parent / "configs").glob("*.yaml"))
    raise ValueError(f"Config file {value} not found (shipped configs: {', '.join(names)}).")


def _read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(  # noqa: TRY004 - reported like every other config error
            f"{path}: a config file must be a YAML mapping of key: value. Got {type(data).__name__}.")
    return data


def _checked(values: dict[str, Any], where: str) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(DiffusionDPOConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"Unknown config key(s) {unknown}{where}. Known keys: {', '.join(sorted(known))}.")
    return values


def _field_kind(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "list": list}[str(f.type)]


def _parse_bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)  # _coerce_types words the message


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"`{name}` must be one of {list(choices)}. Got {value!r}.")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
