"""Denoisers and VAEs from local diffusers folders, one adapter per model kind, and the reference policy.

A ``Denoiser`` adapter runs a model on ``x_t`` (N, C, T, H, W), timesteps (N,) and the batch's ``cond`` dict (see
``trainer/data.py``): Wan takes the 5-D video directly; a UNet2D gets the frames folded into the batch. Conditioning
keys a model does not use are ignored, so the next issue's audio module can add keys without touching the loop.

The trainable weights and the reference policy are built in ``trainer.trainable``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

LORA_ADAPTER = "default"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


class Denoiser(Protocol):
    """Runs one model kind on a batch. ``module`` may be wrapped (DDP); adapters only call it."""

    kind: str

    def __call__(self, module: nn.Module, x_t: torch.Tensor, timesteps: torch.Tensor, cond: dict) -> torch.Tensor:
        ...

    def text_dim(self, module: nn.Module) -> int:
        ...


class WanDenoiser:
    """``WanTransformer3DModel``: (N, C, T, H, W) in and out; optional ``image_embeds`` for I2V-style models.

    With a motion module attached (``trainer.motion.attach``) the batch's ``audio_embeds`` C_audio (N, T, N_a, d_a) and
    ``skeleton`` keypoints (N, T, J, 3) go in through ``attention_kwargs["motion"]``. ``reference_image="vace"``
    prepends the clean reference latent ``ref_latents`` (N, C, 1, H, W) as an extra latent frame (Hallo4's released
    model does this) and cuts it off the output, so it is left out of the loss.
    """

    kind = "wan"

    def __init__(self, reference_image: str = "none"):
        self.reference_image = reference_image

    def __call__(self, module, x_t, timesteps, cond):
        extra = {}
        if cond.get("image_embeds") is not None and _config(module).get("image_dim"):
            extra["encoder_hidden_states_image"] = cond["image_embeds"]
        motion = _motion_inputs(module, cond)
        if motion:
            extra["attention_kwargs"] = {"motion": motion}
        lead = 0
        vace = "vace_layers" in _config(module)
        if self.reference_image == "i2v":
            x_t = torch.cat([x_t, *i2v_condition(cond, x_t)], dim=1)
        if self.reference_image == "vace":
            if cond.get("ref_latents") is None:
                raise ValueError("reference_image 'vace' needs a reference image (the manifest's image column).")
            ref = cond["ref_latents"].to(x_t.dtype)  # (N, C, 1, H, W), clean
            x_t, lead = torch.cat([ref, x_t], dim=2), ref.shape[2]
        if vace:
            extra["control_hidden_states"] = _vace_control(module, cond, x_t, lead)
        out = module(hidden_states=x_t, timestep=timesteps, encoder_hidden_states=cond["encoder_hidden_states"],
                     return_dict=False, **extra)[0]
        return out[:, :, lead:]

    def text_dim(self, module):
        return int(_config(module)["text_dim"])


class UNetDenoiser:
    """``UNet2DConditionModel`` on video: frames are folded into the batch, (N, C, T, H, W) -> (N*T, C, H, W).

    With a motion module, frame t of sample n attends to its own audio tokens ``audio_embeds[n, t]``.
    """

    kind = "unet"

    def __init__(self, reference_image: str = "none"):
        if reference_image != "none":
            raise ValueError(f"reference_image {reference_image!r} is for Wan; the UNet path takes 'none'.")

    def __call__(self, module, x_t, timesteps, cond):
        n, c, t, h, w = x_t.shape
        frames = x_t.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)  # (N*T, C, H, W)
        ehs = cond["encoder_hidden_states"].repeat_interleave(t, dim=0)  # (N*T, L, D)
        extra = {}
        motion = _motion_inputs(module, cond)
        if motion:
            audio = motion["audio"]
            if audio.shape[1] != t:
                raise ValueError(f"audio_embeds has {audio.shape[1]} frames, the latents {t}.")
            extra["cross_attention_kwargs"] = {"motion": {"audio": audio.flatten(0, 1)}}  # (N*T, Na, da)
        out = module(frames, timesteps.repeat_interleave(t), encoder_hidden_states=ehs, return_dict=False,
                     **extra)[0]
        return out.reshape(n, t, -1, h, w).permute(0, 2, 1, 3, 4)  # (N, C, T, H, W)

    def text_dim(self, module):
        return int(_config(module)["cross_attention_dim"])


def i2v_condition(cond: dict, x_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (N, 4, T', H, W), image condition (N, C, T', H, W)) of a Wan I2V input: the pipeline's mask is 1 on the
    4 video frames folded into latent frame 0 (the image) and 0 after; the condition is the cached VAE latent of
    [image, grey frames]."""
    y = cond.get("i2v_latents")
    if y is None:
        raise ValueError("reference_image 'i2v' needs i2v_latents: prepare the cache with the image column and "
                         "reference_image: i2v.")
    n, _, t, h, w = x_t.shape
    mask = torch.zeros(n, 4, t, h, w, device=x_t.device, dtype=x_t.dtype)
    mask[:, :, 0] = 1
    return mask, y.to(x_t.dtype)


def _vace_control(module: nn.Module, cond: dict, x_t: torch.Tensor, lead: int) -> torch.Tensor:
    """A VACE model's control input from the batch's ``vace_latents`` (:mod:`trainer.motion.vace`)."""
    from trainer.motion.vace import vace_context

    if cond.get("vace_latents") is None:
        raise ValueError("a VACE model (Hallo4) needs vace_latents: the skeleton video VAE-encoded (prepare the cache "
                         "with the manifest's skeleton column).")
    ref = cond["ref_latents"] if lead else None
    ctx = vace_context(cond["vace_latents"].to(x_t.dtype), ref, int(_config(module)["vace_in_channels"]))
    if ctx.shape[2:] != x_t.shape[2:]:
        raise ValueError(f"vace_latents give {tuple(ctx.shape[2:])} latent frames x grid, the video "
                         f"{tuple(x_t.shape[2:])}: the skeleton video does not fit the clip.")
    return ctx


def _motion_inputs(module: nn.Module, cond: dict) -> dict | None:
    """The motion module's inputs from the batch, or None for a model without one."""
    from trainer.motion.attach import has_motion

    if not has_motion(module):
        return None
    return {"audio": cond.get("audio_embeds"), "skeleton": cond.get("skeleton")}


DENOISERS: dict[str, type] = {"wan": WanDenoiser, "unet": UNetDenoiser}


def make_denoiser(kind: str, reference_image: str = "none") -> Denoiser:
    if kind not in DENOISERS:
        raise ValueError(f"model_kind must be one of {sorted(DENOISERS)}. Got {kind!r}.")
    return DENOISERS[kind](reference_image)


def load_denoiser(kind: str, path: str | Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """``WanTransformer3DModel`` or ``UNet2DConditionModel`` from a local diffusers folder (nothing downloaded).

    A folder :func:`save_trained` wrote with a motion module (``motion_config.json`` beside ``config.json``) comes
    back with it: the stock ``from_pretrained`` skips those weights, :func:`trainer.motion.attach.load_motion` restores
    them.
    """
    import diffusers

    from trainer.motion.attach import load_motion
    from trainer.motion.config import MOTION_CONFIG

    names = {"wan": "WanTransformer3DModel", "unet": "UNet2DConditionModel"}
    got = read_model_config(kind, path).get("_class_name")
    cls = getattr(diffusers, got if got in WAN_VARIANTS.get(kind, ()) else names[kind])
    has_motion = (Path(path) / MOTION_CONFIG).is_file()
    with _quiet_diffusers() if has_motion else contextlib.nullcontext():  # "weights not used": the motion keys
        model = cls.from_pretrained(_local(path, f"{kind} denoiser"), local_files_only=True, torch_dtype=dtype)
    if has_motion:
        load_motion(model, path)
    return model


def load_vae(kind: str, path: str | Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """``AutoencoderKLWan`` (wan) or ``AutoencoderKL`` (unet) from a local diffusers folder, in eval mode."""
    from diffusers import AutoencoderKL, AutoencoderKLWan

    cls = {"wan": AutoencoderKLWan, "unet": AutoencoderKL}[kind]
    read_model_config(kind, path, role="VAE")
    vae = cls.from_pretrained(_local(path, f"{kind} VAE"), local_files_only=True, torch_dtype=dtype)
    return vae.eval().requires_grad_(False)


CLASS_NAMES = {"wan": ("WanTransformer3DModel", "AutoencoderKLWan"), "unet": ("UNet2DConditionModel", "AutoencoderKL")}
# other denoiser classes a kind accepts: Hallo4's released model is a VACE-Wan (the skeleton video as control input)
WAN_VARIANTS = {"wan": ("WanVACETransformer3DModel",)}


def read_model_config(kind: str, path: str | Path, role: str = "denoiser") -> dict:
    """A local model's config.json, checked against the model kind (no weights loaded)."""
    import json

    config = json.loads((Path(_local(path, f"{kind} {role}")) / "config.json").read_text())
    want = CLASS_NAMES[kind][0 if role == "denoiser" else 1]
    got = config.get("_class_name")
    if got and got != want and not (role == "denoiser" and got in WAN_VARIANTS.get(kind, ())):
        raise ValueError(f"{path} holds a {got}, but model_kind {kind!r} needs a {want} as {role}.")
    return config


def vace_model(cfg) -> bool:
    """Whether the run trains a VACE model (a converted Hallo4): the ``--init`` run's saved denoiser when it has one,
    else ``denoiser_path``. Its batches then need ``vace_latents`` (the cache writes them)."""
    import json

    folders = [Path(cfg.init_from) / "final" / "denoiser"] if cfg.init_from else []
    folders += [Path(cfg.denoiser_path)] if cfg.denoiser_path else []
    for folder in folders:
        if (folder / "config.json").is_file():
            return "vace_layers" in json.loads((folder / "config.json").read_text())
    return False


def check_latents(kind: str, path: str | Path, latents: torch.Tensor, text_dim: int,
                  reference_image: str = "none") -> None:
    """Fail before training when cached latents or prompt embeddings do not fit the denoiser's config.json."""
    config = read_model_config(kind, path)
    want_c = config["in_channels"]
    want_d = config["text_dim"] if kind == "wan" else config["cross_attention_dim"]
    c = latents.shape[0]
    # Wan I2V takes [noisy latents (C), mask (4), VAE latent of [image, zeros] (C)]: 36 = 16 + 4 + 16
    i2v = reference_image == "i2v"
    if want_c == 2 * c + 4 and kind == "wan" and not i2v:
        raise ValueError(f"The denoiser takes {want_c} = 2 x {c} + 4 channels: a Wan I2V model. Set "
                         "reference_image: i2v (needs the manifest's image column).")
    if (2 * c + 4 if i2v else c) != want_c:
        raise ValueError(f"The cached latents have {c} channels but the denoiser takes {want_c}"
                         f"{' (I2V: 2 x C + 4)' if i2v else ''}: the VAE does not belong to this denoiser.")
    if text_dim != want_d:
        raise ValueError(f"The prompt embeddings have dim {text_dim} but the denoiser expects {want_d}.")


def denoiser_text_dim(kind: str, path: str | Path) -> int:
    """The text embedding dim from the denoiser's config.json (no weights loaded)."""
    config = read_model_config(kind, path)
    return int(config["text_dim"] if kind == "wan" else config["cross_attention_dim"])


def save_trained(model: nn.Module, out_dir: Path, lora: bool, phase: str = "") -> Path:
    """Save what was trained so that :func:`load_trained` (and ``from_pretrained``) get all of it back.

    * phased SFT: ``out_dir/motion`` (``motion_config.json`` + ``motion.safetensors``); the base is unchanged.
    * LoRA: ``out_dir/lora`` (``pytorch_lora_weights.safetensors``, peft config in its metadata; load with
      ``load_lora_adapter(dir, prefix=None)``) and, with a motion module, ``out_dir/motion`` beside it.
    * full: ``out_dir/denoiser`` (``config.json`` + safetensors, plus the motion files when there is a module).

    Returns the folder written.
    """
    from trainer.motion.attach import has_motion, save_motion

    if phase:
        return save_motion(model, out_dir / "motion")
    if lora:
        target = out_dir / "lora"
        with _quiet_diffusers():  # save_lora_adapter calls .to(dtype=None), which makes Wan warn about fp32 modules
            model.save_lora_adapter(str(target), adapter_name=LORA_ADAPTER, safe_serialization=True,
                                    weight_name=LORA_WEIGHTS)
        if has_motion(model):
            save_motion(model, out_dir / "motion")
    else:
        target = out_dir / "denoiser"
        model.save_pretrained(str(target), safe_serialization=True)
        if has_motion(model):
            save_motion(model, target)
    return target


def load_trained(kind: str, base_path: str | Path, trained_dir: str | Path) -> nn.Module:
    """Load what :func:`save_trained` wrote: the full model, or the base with the motion module and LoRA applied
    (motion first: the LoRA may reach into its layers)."""
    from trainer.motion.attach import load_motion

    trained_dir = Path(trained_dir)
    if (trained_dir / "denoiser").is_dir():
        return load_denoiser(kind, trained_dir / "denoiser")
    if not ((trained_dir / "lora").is_dir() or (trained_dir / "motion").is_dir()):
        raise ValueError(f"{trained_dir}: no denoiser/, lora/ or motion/ folder (not a finished run's final/).")
    model = load_denoiser(kind, base_path)
    if (trained_dir / "motion").is_dir():
        load_motion(model, trained_dir / "motion")
    if (trained_dir / "lora").is_dir():
        model.load_lora_adapter(str(trained_dir / "lora"), prefix=None, adapter_name=LORA_ADAPTER,
                                weight_name=LORA_WEIGHTS)
    return model


@contextlib.contextmanager
def _quiet_diffusers():
    from diffusers.utils import logging as dlog

    level = dlog.get_verbosity()
    dlog.set_verbosity_error()
    try:
        yield
    finally:
        dlog.set_verbosity(level)


def _config(module: nn.Module) -> dict:
    inner = getattr(module, "module", module)  # DDP keeps the model in .module
    return dict(inner.config)


def _local(path: str | Path, what: str) -> str:
    p = Path(path).expanduser()
    if not str(path) or not (p / "config.json").is_file():
        raise FileNotFoundError(f"{what}: {p} is not a local diffusers folder (no config.json). "
                                "Pass the folder written by save_pretrained (nothing is downloaded).")
    return str(p)
