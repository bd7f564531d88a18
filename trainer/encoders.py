"""Encoders shared by the cache and sampling: VAE latents, wav2vec2 and CLIP features, prompts, and the
fingerprint that keys cache entries by model."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from trainer.media_decode import read_image

if TYPE_CHECKING:
    from trainer.cache import CacheSettings

# what CLIPImageProcessor normalises with by default (OpenAI CLIP), the Wan I2V pipeline's image encoder input
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def encode_clip_image(model, path: str) -> torch.Tensor:
    """(N, D) penultimate hidden states of a CLIP vision model: the image resized (shorter side) and centre-cropped
    to ``config.image_size``, normalised with CLIP's mean and std, as CLIPImageProcessor does by default."""
    from trainer.cache import CacheSettings  # lazy: the cache imports this module

    size = model.config.image_size
    x = (read_image(path, CacheSettings(num_frames=1, frames_rule="n", height=8 * math.ceil(size / 8),
                                        width=8 * math.ceil(size / 8)))[:, 0] + 1) / 2  # (3, S, S) in [0, 1]
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    x = (x - torch.tensor(CLIP_MEAN).view(3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1)
    p = next(model.parameters())
    out = model.eval()(pixel_values=x[None].to(p.device, p.dtype), output_hidden_states=True)
    return out.hidden_states[-2][0].float().cpu()


def is_video_vae(vae) -> bool:
    """AutoencoderKLWan-style (5-D input, latents_mean/std) vs image AutoencoderKL (4-D, scaling_factor)."""
    return getattr(vae.config, "latents_mean", None) is not None and "z_dim" in vae.config


def encode_pixels(vae, x: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """(3, T, H, W) pixels -> normalised latents (C, T', h, w), float32 on the CPU."""
    p = next(vae.parameters())
    if is_video_vae(vae):
        z = vae.encode(x[None].to(p.device, p.dtype)).latent_dist.mean[0].float()
        c = z.shape[0]
        mean = torch.tensor(vae.config.latents_mean, device=z.device).view(c, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device).view(c, 1, 1, 1)
        return ((z - mean) / std).cpu()
    frames = x.permute(1, 0, 2, 3)  # image VAE: frames are a batch
    z = torch.cat([vae.encode(frames[i: i + chunk].to(p.device, p.dtype)).latent_dist.mean.float()
                   for i in range(0, frames.shape[0], chunk)])
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return ((z - shift) * vae.config.scaling_factor).permute(1, 0, 2, 3).cpu()


def encode_audio(model, samples: torch.Tensor, s: CacheSettings) -> torch.Tensor:
    """wav2vec2 features of zero-mean, unit-variance samples (what Wav2Vec2FeatureExtractor does)."""
    p = next(model.parameters())
    x = (samples - samples.mean()) / torch.sqrt(samples.var() + 1e-7)
    model.eval()
    out = model(x[None].to(p.device, p.dtype), output_hidden_states=s.audio_layers == "all")
    if s.audio_layers == "all":
        return torch.stack(out.hidden_states[1:], dim=2)[0].float().cpu()  # (La, layers, Da)
    return out.last_hidden_state[0].float().cpu()


def clip_audio_condition(model, samples: torch.Tensor, s: CacheSettings) -> torch.Tensor:
    """C_audio (num_frames, 2w + 1, d_a) of a clip's samples, the way ``s.audio_features`` names."""
    from trainer.motion.audio_features import audio_condition, hallo4_features, window

    if s.audio_features == "hallo4":
        return window(hallo4_features(model, samples, s.num_frames).flatten(1), s.audio_window)
    return audio_condition(encode_audio(model, samples, s), s.num_frames, s.audio_window)


class PromptEncoder:
    """A local Hugging Face text encoder (T5/UMT5 encoder, CLIP text model) as ``(prompts) -> (N, L, D)``.

    Embeddings past each prompt's tokens are zeroed, as the Wan pipeline does, so padding carries nothing.
    """

    def __init__(self, tokenizer, model, max_length: int = 512):
        self.tokenizer, self.model, self.max_length = tokenizer, model.eval(), max_length
        self.fingerprint = f"{fingerprint(model)}:{max_length}:{type(tokenizer).__name__}:{len(tokenizer)}"

    @classmethod
    def from_pretrained(cls, path: str | Path, max_length: int = 512) -> PromptEncoder:
        import transformers

        # local_files_only: a path that is not a local folder must fail here, never become a hub download.
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        encoders = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
        model_cls = getattr(transformers, encoders.get(config.model_type, "AutoModel"))
        return cls(transformers.AutoTokenizer.from_pretrained(path, local_files_only=True),
                   model_cls.from_pretrained(path, local_files_only=True), max_length)

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        tok = self.tokenizer(prompts, padding="max_length", max_length=self.max_length, truncation=True,
                             return_tensors="pt")
        p = next(self.model.parameters())
        mask = tok["attention_mask"].to(p.device)
        with torch.inference_mode():
            h = self.model(input_ids=tok["input_ids"].to(p.device), attention_mask=mask).last_hidden_state
        return (h * mask[..., None]).float().cpu()


def fingerprint(obj) -> str:
    """Identity of a model for cache keys: class, config and a sample of every weight tensor (cheap even for
    billions of parameters: the first and last 64 values of each tensor). Non-modules use ``obj.fingerprint``."""
    if getattr(obj, "fingerprint", None) and isinstance(obj.fingerprint, str):
        return obj.fingerprint
    cached = getattr(obj, "_cache_fingerprint", None)
    if cached:
        return cached
    h = hashlib.sha256(type(obj).__name__.encode())
    config = getattr(obj, "config", None)
    if config is not None:
        h.update(json.dumps(dict(config) if isinstance(config, dict) else config.to_dict(), sort_keys=True,
                            default=str).encode())
    for name, t in obj.state_dict().items():
        flat = t.detach().reshape(-1)
        sample = torch.cat([flat[:64], flat[-64:]]).float().cpu().numpy().tobytes()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode() + sample)
    return h.hexdigest()[:40]


# model_type values in config.json each encoder role accepts (what the loaders in trainer.run build)
ENCODER_TYPES = {"audio": ("wav2vec2",), "image": ("clip_vision_model", "clip"),
                 "text": ("t5", "mt5", "umt5", "clip_text_model", "clip")}
ENCODER_FLAGS = {"audio": "--audio-encoder", "image": "--image-encoder", "text": "text_encoder_path"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")


def check_encoder_folder(path: str | Path, role: str) -> dict:
    """The config.json of a local transformers encoder folder, after checking it is one of ``role``'s model types
    and holds weights (like the VAE and transformer folders: one line, nothing downloaded)."""
    flag, want = ENCODER_FLAGS[role], ENCODER_TYPES[role]
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ValueError(f"{flag} {path}: no such folder (a local folder is needed; nothing is downloaded).")
    if not (p / "config.json").is_file():
        raise ValueError(f"{flag} {path}: no config.json: not a local transformers model folder (the folder "
                         "save_pretrained writes; nothing is downloaded).")
    try:
        config = json.loads((p / "config.json").read_text())
    except ValueError as e:
        raise ValueError(f"{flag} {path}: config.json is not valid JSON ({e}).") from None
    got = config.get("model_type") or config.get("_class_name") or "no model_type"
    if got not in want:
        raise ValueError(f"{flag} {path}: config.json says {got!r}, but this needs a {' / '.join(want)} model.")
    if not any((p / name).is_file() for name in WEIGHT_FILES):
        raise ValueError(f"{flag} {path}: no weights ({' / '.join(WEIGHT_FILES[:2])}) beside config.json.")
    return config
