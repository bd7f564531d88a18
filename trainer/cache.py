"""The latent cache: every video, reference image, audio track and prompt of a pair manifest encoded once.

Layout of ``cache_dir`` (all tensors float32, safetensors):

    video/<key>.safetensors   {"latents": (C, T', h, w)}  normalised VAE latents of one video
    image/<key>.safetensors   {"latents": (C, 1, h, w)}   the reference image, same VAE and normalisation
    i2v/<key>.safetensors     {"latents": (C, T', h, w)}  (``i2v=True``) the VAE latent of [image, grey frames],
                                                          the condition a Wan I2V model concatenates to its input
    clip/<key>.safetensors    {"image_embeds": (N, D)}    (``image_encoder``) CLIP vision penultimate hidden states
    audio/<key>.safetensors   {"audio_embeds": (T, 2w+1, d_a)}  frame-aligned wav2vec2 features of the clip's
                                                          audio window (``trainer.motion.audio_features``; d_a = Da, or
                                                          layers x Da with audio_layers="all")
    text/<key>.safetensors    {"encoder_hidden_states": (L, D)}
    skeleton/<key>.safetensors {"keypoints": (T, J, 3)}   the clip's first num_frames keypoint frames, or
                               {"frames": (T, 3, H/8, W/8)} a rendered skeleton video in [0, 1] on the latent grid,
                               or (``skeleton_vae``) {"latents": (T, C, h, w)} each of its frames VAE-encoded alone
                               (Hallo4's pose input: ``skeleton_projection`` 'hallo4')
    vace/<key>.safetensors    {"vace_latents": (2C, T', h, w)}  (``vace``) a VACE model's source-video latents,
                                                          as Hallo4 builds them (``trainer.motion.vace``); they
                                                          depend on the VAE, frame count and size only: one entry
                                                          per setting, shared by every clip
    index.json                {"pairs": {pair_id: {"winner", "loser", "image", "audio", "text"}}, "text_shape",
                               "settings"}: what the last prepare produced, read by ``trainer.data.PairDataset``

A key is the SHA-256 of the file's content hash (or the prompt) and every setting that changes the result (frame
rule and count, fps, size, encoder fingerprint), so a second prepare with the same settings encodes nothing and
several settings can share one folder. Files are written under a hidden temp name and renamed
(``storage.atomic``), so an interrupted prepare leaves either a whole entry or a temp file, which the next prepare
deletes.
Run one prepare per cache folder at a time (with several processes, prepare on the main one, then wait).

Normalisation: Wan's AutoencoderKLWan latents become ``(z - latents_mean) / latents_std`` per channel (what the
diffusers Wan pipeline inverts on decode); an AutoencoderKL's become ``(z - shift_factor) * scaling_factor``.
The posterior mean is stored (deterministic; no resampling per epoch).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from storage.atomic import atomic_write, atomic_write_text
from storage.errors import CurateError
from storage.media import sha256_file
from storage.proc import pid_alive
from trainer.encoders import clip_audio_condition, encode_clip_image, encode_pixels, fingerprint
from trainer.media_decode import decode_clip_frames, read_audio, read_image

FRAME_RULES = ("4k+1", "n")
AUDIO_LAYERS = ("last", "all")
KINDS = ("video", "image", "audio", "text", "skeleton", "i2v", "clip", "vace")


@dataclass(frozen=True)
class CacheSettings:
    """What a cached entry depends on besides the input file.

    frames_rule: "4k+1" (Wan's causal VAE: num_frames must be 4k+1) or "n" (any count; image VAEs encode frame
        by frame). num_frames: frames sampled from the start of each video at ``fps`` (the last frame repeats when
        a video is shorter). height, width: pixels after resize-to-cover and centre crop; multiples of 8.
    fps: sampling rate of frames, and the audio window is num_frames / fps seconds.
    audio_layers: "last" (last_hidden_state) or "all" (every transformer layer stacked, as Hallo4 feeds them).
    audio_window: w, the +-w neighbouring video frames each frame's audio feature carries (Hallo4: 2).
    """

    frames_rule: str = field(default="4k+1", metadata={
        "help": "'4k+1' (Wan's causal VAE: num_frames must be 4k+1) or 'n' (any count; image VAEs encode "
                "frame by frame)."})
    num_frames: int = field(default=9, metadata={
        "help": "Frames sampled from the start of each video at fps (the last frame repeats when a video "
                "is shorter)."})
    height: int = field(default=64, metadata={
        "help": "Pixels after resize-to-cover and centre crop; a multiple of 8."})
    width: int = field(default=64, metadata={
        "help": "Pixels after resize-to-cover and centre crop; a multiple of 8."})
    fps: float = field(default=16.0, metadata={
        "help": "Sampling rate of frames; the audio window is num_frames / fps seconds."})
    audio_layers: str = field(default="last", metadata={
        "help": "'last' (last_hidden_state) or 'all' (every transformer layer stacked, as Hallo4 feeds "
                "them)."})
    audio_window: int = field(default=2, metadata={
        "help": "w: the +-w neighbouring video frames each frame's audio feature carries (Hallo4: 2)."})
    skeleton_vae: bool = field(default=False, metadata={
        "help": "Cache a rendered skeleton video as the VAE latents of each frame encoded alone, (T, C, h, w) "
                "(Hallo4's pose input), instead of colour maps on the latent grid."})
    audio_features: str = field(default="hidden", metadata={
        "help": "'hidden': wav2vec2 run at 50 Hz, its hidden states resampled to the frames; 'hallo4': its CNN "
                "features resampled to the frames (align_corners=True) before the transformer, as Hallo4 does."})
    skeleton_framing: str = field(default="cover", metadata={
        "help": "A rendered skeleton video's framing: 'cover' (as the clips) or 'fit_height' (Hallo4: scale to the "
                "height, pad the width with black or crop its centre; trainer.motion.hallo4_media)."})
    vace: bool = field(default=False, metadata={
        "help": "Also cache a VACE model's context latents (Hallo4 converted whole): VAE of the all-zero source "
                "video upstream gives VACE, one entry per VAE / frame count / size, shared by every clip."})

    def __post_init__(self) -> None:
        if self.frames_rule not in FRAME_RULES:
            raise ValueError(f"frames_rule must be one of {FRAME_RULES}. Got {self.frames_rule!r}.")
        if self.num_frames < 1 or (self.frames_rule == "4k+1" and self.num_frames % 4 != 1):
            raise ValueError(f"num_frames must be >= 1 and 4k+1 for frames_rule '4k+1' (e.g. 9, 49, 81). "
                             f"Got {self.num_frames}.")
        if self.height < 8 or self.width < 8 or self.height % 8 or self.width % 8:
            raise ValueError(f"height and width must be positive multiples of 8. Got {self.height}x{self.width}.")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0. Got {self.fps}.")
        if self.audio_features not in ("hidden", "hallo4"):
            raise ValueError(f"audio_features must be 'hidden' or 'hallo4'. Got {self.audio_features!r}.")
        if self.audio_layers not in AUDIO_LAYERS:
            raise ValueError(f"audio_layers must be one of {AUDIO_LAYERS}. Got {self.audio_layers!r}.")
        if self.audio_window < 0:
            raise ValueError(f"audio_window must be >= 0. Got {self.audio_window}.")
        if type(self.skeleton_vae) is not bool:  # a YAML "yes" string must not pass as true
            raise ValueError(f"skeleton_vae must be true or false. Got {self.skeleton_vae!r}.")
        if self.skeleton_framing not in ("cover", "fit_height"):
            raise ValueError(f"skeleton_framing must be 'cover' or 'fit_height'. Got {self.skeleton_framing!r}.")
        if type(self.vace) is not bool:
            raise ValueError(f"vace must be true or false. Got {self.vace!r}.")


def prepare_cache(
    manifest_df: pd.DataFrame,
    vae,
    cache_dir: str | Path,
    *,
    frames_rule: str = "4k+1",
    num_frames: int = 9,
    height: int = 64,
    width: int = 64,
    fps: float = 16.0,
    audio_encoder=None,
    text_encoder=None,
    text_shape: tuple[int, int] | None = None,
    audio_layers: str = "last",
    audio_window: int = 2,
    i2v: bool = False,
    image_encoder=None,
    skeleton_vae: bool = False,
    reference: bool = True,
    progress: bool = True,
    audio_features: str = "hidden",
    vace: bool = False,
    skeleton_framing: str = "cover",
    separator=None,
) -> dict[str, dict[str, str | None]]:
    """Encode what the manifest needs that is not cached yet; return ``{pair_id: {role: key}}``.

    Args:
        manifest_df: a validated manifest (``trainer.data.validate_manifest``: absolute media paths).
        vae: a diffusers AutoencoderKLWan or AutoencoderKL (its device and dtype are used).
        audio_encoder: a transformers Wav2Vec2Model, or None to skip audio (needs an ``audio`` column).
        text_encoder: a callable ``(list[str]) -> (N, L, D)`` (e.g. :class:`PromptEncoder`), or None.
        text_shape: (L, D) of the zero prompt embeddings used when ``text_encoder`` is None.
        image_encoder: a transformers ``CLIPVisionModel``: each reference image's penultimate hidden states
            (what the Wan I2V pipeline feeds as ``encoder_hidden_states_image``), or None.
        i2v: also encode each reference image as the first of num_frames frames followed by zeros (mid grey), as
            the Wan I2V pipeline builds its condition.
        separator: a ``trainer.motion.vocal_separation.VocalSeparator``: each audio is its separated vocals before
            the audio encoder (its file's hash joins the audio entries' keys), or None.
        reference: VAE-encode each reference image (``image/``) for a model fed it as a latent frame
            (``reference_image: vace``); False skips them (a run that does not feed them).
        Others: see :class:`CacheSettings`.
    """
    s = CacheSettings(frames_rule, num_frames, height, width, fps, audio_layers, audio_window, skeleton_vae,
                      audio_features, skeleton_framing, vace)
    if text_encoder is None and text_shape is None:
        raise ValueError("text_shape=(L, D) is needed when no text_encoder is given (zero prompt embeddings; "
                         "D is the denoiser's text dim, e.g. 4096 for Wan2.1 with L = 512).")
    cache_dir = Path(cache_dir)
    for kind in KINDS:
        (cache_dir / kind).mkdir(parents=True, exist_ok=True)
    clean_stale_temp(cache_dir)
    jobs, pairs = _plan(manifest_df, s, vae, audio_encoder, text_encoder, i2v, reference, separator)
    if image_encoder is not None:
        clip_settings = {"enc": fingerprint(image_encoder)}
        hashes: dict[str, str] = {}
        for rec in manifest_df.to_dict("records"):
            pairs[str(rec["pair_id"])]["clip"] = _job(jobs, hashes, "clip", rec.get("image"), clip_settings)
    todo = {k: v for k, v in jobs.items() if not entry_path(cache_dir, k).is_file()}
    _encode_all(todo, cache_dir, s, vae, audio_encoder, text_encoder, progress, image_encoder, separator)
    index = {"pairs": pairs, "text_shape": None if text_encoder is not None else list(text_shape),
             "settings": asdict(s)}
    atomic_write_text(cache_dir / "index.json", json.dumps(index, indent=1))
    return pairs


def _plan(manifest_df: pd.DataFrame, s: CacheSettings, vae, audio_encoder, text_encoder, i2v: bool = False,
          reference: bool = True, separator=None):
    """Cache keys of every row, and the work behind each key: ({key: (kind, source)}, {pair_id: {role: key}})."""
    vae_fp = fingerprint(vae)
    video_settings = {"vae": vae_fp, "rule": s.frames_rule, "frames": s.num_frames, "fps": s.fps,
                      "hw": [s.height, s.width]}
    image_settings = {"vae": vae_fp, "hw": [s.height, s.width]}
    audio_settings = audio_encoder is not None and {
        "enc": fingerprint(audio_encoder), "seconds": s.num_frames / s.fps, "layers": s.audio_layers,
        "frames": s.num_frames, "window": s.audio_window, "aligned": 1,
        **({"features": s.audio_features} if s.audio_features != "hidden" else {}),
        **({"vocals": separator.fingerprint} if separator is not None else {})}
    text_fp = text_encoder is not None and fingerprint(text_encoder)
    # colour maps do not depend on the VAE; per-frame latents do
    skeleton_settings = {**video_settings, "skeleton_vae": 1} if s.skeleton_vae else {**video_settings, "vae": None}
    if s.skeleton_framing != "cover":  # keys of the default framing stay as they were
        skeleton_settings["framing"] = s.skeleton_framing
    jobs: dict[str, tuple[str, str]] = {}
    hashes: dict[str, str] = {}  # file -> sha256, so a file shared by rows is hashed once
    pairs = {}
    for row, rec in enumerate(manifest_df.to_dict("records"), start=1):
        if s.skeleton_vae:
            _check_skeleton(rec, row, s.fps)
        keys = {role: _job(jobs, hashes, "video", rec[col], video_settings)
                for role, col in (("winner", "winner_video"), ("loser", "loser_video"))}
        keys["image"] = _job(jobs, hashes, "image", rec.get("image"), image_settings) if reference else None
        keys["i2v"] = _job(jobs, hashes, "i2v", rec.get("image"), video_settings) if i2v else None
        keys["audio"] = _job(jobs, hashes, "audio", rec.get("audio"), audio_settings) if audio_settings else None
        keys["skeleton"] = _job(jobs, hashes, "skeleton", rec.get("skeleton"), skeleton_settings)
        prompt = rec.get("prompt") if isinstance(rec.get("prompt"), str) else ""
        keys["text"] = _text_job(jobs, prompt, text_fp) if text_fp else None
        keys["vace"] = _vace_job(jobs, video_settings) if s.vace else None
        pairs[str(rec["pair_id"])] = keys
    return jobs, pairs


def _job(jobs, hashes, kind: str, path, settings: dict) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    if path not in hashes:
        hashes[path] = sha256_file(path)
    key = f"{kind}/{_hash({'file': hashes[path], **settings})}"
    jobs[key] = (kind, path)
    return key


def _text_job(jobs, prompt: str, encoder_fp: str) -> str:
    key = f"text/{_hash({'prompt': prompt, 'enc': encoder_fp})}"
    jobs[key] = ("text", prompt)
    return key


def _check_skeleton(rec: dict, row: int, fps: float) -> None:
    """Hallo4's pose input pairs skeleton frame i with audio frame i: a rendered skeleton whose length does not
    match the row's audio is refused before anything is encoded."""
    skeleton, audio = rec.get("skeleton"), rec.get("audio")
    if not (isinstance(skeleton, str) and skeleton and isinstance(audio, str) and audio):
        return
    from storage.media import audio_duration
    from trainer.motion.hallo4_media import check_fits_audio
    from trainer.motion.skeleton import is_keypoint_file

    if is_keypoint_file(skeleton):
        return  # read_skeleton names it
    try:
        check_fits_audio(skeleton, audio_duration(Path(audio), f"audio {audio}"), fps)
    except CurateError as e:
        raise CurateError(f"manifest row {row} (pair {rec.get('pair_id')}): {e}") from None


def _vace_job(jobs, video_settings: dict) -> str:
    """The clip-independent VACE entry of these settings (the source video upstream gives VACE is all zeros)."""
    key = f"vace/{_hash({'vace': 1, **video_settings})}"
    jobs[key] = ("vace", "")
    return key


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:40]


def _encode_all(todo, cache_dir, s: CacheSettings, vae, audio_encoder, text_encoder, progress: bool,
                image_encoder=None, separator=None) -> None:
    from tqdm import tqdm

    with torch.inference_mode():
        for key, (kind, src) in tqdm(sorted(todo.items()), desc="cache", unit="item", disable=not progress):
            if kind == "video":
                out = {"latents": encode_pixels(vae, decode_clip_frames(src, s))}
            elif kind == "image":
                out = {"latents": encode_pixels(vae, read_image(src, s))}
            elif kind == "i2v":
                image = read_image(src, s)  # (3, 1, H, W)
                rest = torch.zeros(3, s.num_frames - 1, *image.shape[2:])
                out = {"latents": encode_pixels(vae, torch.cat([image, rest], dim=1))}
            elif kind == "audio":
                seconds = s.num_frames / s.fps
                samples = read_audio(src, seconds, strict=True) if separator is None \
                    else separator.read_16k(src, seconds, strict=True)
                out = {"audio_embeds": clip_audio_condition(audio_encoder, samples, s)}
            elif kind == "clip":
                out = {"image_embeds": encode_clip_image(image_encoder, src)}
            elif kind == "skeleton":
                out = read_skeleton(src, s, vae)
            elif kind == "vace":
                out = {"vace_latents": _vace_latents(vae, s)}
            else:
                out = {"encoder_hidden_states": text_encoder([src])[0]}
            save_entry(cache_dir, key, out)


def read_skeleton(path: str, s: CacheSettings, vae=None) -> dict[str, torch.Tensor]:
    """Keypoints (T, J, 3), or a rendered skeleton video sampled like the clip and area-averaged to the latent grid
    (H/8, W/8): (T, 3, H/8, W/8) in [0, 1]; with ``s.skeleton_vae`` its frames' VAE latents (T, C, h, w), each
    frame encoded as a one-frame video (as Hallo4 encodes its skeleton frames)."""
    from trainer.motion.skeleton import is_keypoint_file, read_keypoints

    if is_keypoint_file(path):
        if s.skeleton_vae:
            raise CurateError(f"{path}: skeleton_input 'vae' VAE-encodes a rendered skeleton video; this is a "
                              "keypoint file.")
        return {"keypoints": read_keypoints(path, s.num_frames)}
    if s.skeleton_vae:
        from trainer.motion.hallo4_media import read_skeleton_video

        # (3, T, H, W) in [-1, 1]
        pixels = read_skeleton_video(path, s.num_frames, s.fps, s.height, s.width, s.skeleton_framing)
        return {"latents": torch.stack([encode_pixels(vae, pixels[:, t:t + 1])[:, 0] for t in range(s.num_frames)])}
    frames = (decode_clip_frames(path, s).permute(1, 0, 2, 3) + 1) / 2  # (T, 3, H, W) in [0, 1]
    return {"frames": F.interpolate(frames, size=(s.height // 8, s.width // 8), mode="area")}


def _vace_latents(vae, s: CacheSettings) -> torch.Tensor:
    from trainer.motion.vace import encode_vace_latents

    return encode_vace_latents(lambda v: encode_pixels(vae, v), s.num_frames, s.height, s.width)


# ---- files ------------------------------------------------------------------------------------------------

def entry_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{key}.safetensors"


def save_entry(cache_dir: str | Path, key: str, tensors: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    tensors = {k: v.detach().float().contiguous().cpu() for k, v in tensors.items()}
    return atomic_write(entry_path(cache_dir, key), lambda p: save_file(tensors, str(p)))


def load_entry(cache_dir: str | Path, key: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(entry_path(cache_dir, key)))


def clean_stale_temp(cache_dir: Path) -> int:
    """Delete temp files left by an interrupted prepare; return how many.

    ``storage.atomic``'s temps (``.<stem>.<random>.tmp.<suffix>``) are all stale: one prepare runs per folder at a
    time. Older ``<name>.<pid>.tmp`` files are kept while their process still runs.
    """
    n = 0
    for tmp in [*cache_dir.rglob(".*.tmp.*"), *cache_dir.rglob("*.tmp")]:
        pid = tmp.suffixes[-2].lstrip(".") if tmp.suffix == ".tmp" and len(tmp.suffixes) >= 2 else ""
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        n += 1
    return n
