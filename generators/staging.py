"""One staging step for every upstream adapter: inputs converted to what that upstream accepts.

Each adapter declares an :class:`InputContract` (read from its upstream's inference script,
see docs/generators.md). :func:`stage_inputs` then turns any clip ingest accepts into files
that satisfy it, or refuses the clip with one line naming the file and the problem:

* audio: anything that is not already a ``.wav`` of 16-bit PCM at the contract's rate is
  converted with the ffmpeg binary bundled by imageio-ffmpeg (the one the project already
  uses to write video), mono;
* portrait: centre-cropped to the contract's aspect, never stretched. Requests carry no face
  box, so the centre is the rule; every upstream here detects and centres the face itself
  from what it is given, and ingest's portraits are face-centred;
* skeleton video: re-encoded at the contract's fps (frames dropped or repeated, duration
  kept) and with the contract's suffix, or refused when it cannot be decoded.

Every staged file is written under the batch folder (atomically) and listed in the batch's
``upstream.log``, which the worker copies into each job's log.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from generators.base import GenerationRequest
from storage.atomic import atomic_path

__all__ = ["InputContract", "StagedInputs", "StagingError", "stage_inputs"]


class StagingError(ValueError):
    """A clip's input cannot be made acceptable to the upstream; the message names file and reason."""


@dataclass(frozen=True)
class InputContract:
    """What one upstream accepts, as read from its inference code (cited per adapter).

    Attributes:
        audio_rate: sample rate of the staged 16-bit wav (Hz).
        image_aspect: (w, h) the portrait is centre-cropped to, or None to pass it as it is.
        skeleton_suffix: suffix a skeleton video must have (".mp4"), or None when no video is read.
        skeleton_fps: frame rate the skeleton video must have, or None.
        frame_rate: the fps the upstream renders at (documentation; normalisation resamples it).
    """

    audio_rate: int = 16000
    image_aspect: tuple[int, int] | None = (1, 1)
    skeleton_suffix: str | None = None
    skeleton_fps: float | None = None
    frame_rate: float = 25.0


@dataclass(frozen=True)
class StagedInputs:
    image: Path
    audio: Path
    skeleton: Path | None = None


def stage_inputs(r: GenerationRequest, folder: Path, contract: InputContract, log: Path,
                 skeleton: Path | None = None) -> StagedInputs:
    """Stage ``r``'s image, audio (and ``skeleton`` video, if given) as ``folder/<safe_id>.*``.

    Raises:
        StagingError: an input is unreadable or cannot be converted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    image = stage_image(Path(r.image_path), folder / f"{r.safe_id}.png", contract.image_aspect)
    audio = stage_audio(Path(r.audio_path), folder / f"{r.safe_id}.wav", contract.audio_rate)
    skel = None
    if skeleton is not None and contract.skeleton_suffix:
        skel = stage_skeleton(Path(skeleton), folder.parent / "skeletons" / f"{r.safe_id}{contract.skeleton_suffix}",
                              contract.skeleton_fps)
    lines = [f"staged {r.safe_id} (clip {r.clip_id}): image {r.image_path} -> {image}",
             f"staged {r.safe_id}: audio {r.audio_path} -> {audio}"]
    if skel is not None:
        lines.append(f"staged {r.safe_id}: skeleton {skeleton} -> {skel}")
    _log(log, lines)
    return StagedInputs(image, audio, skel)


def stage_image(src: Path, dst: Path, aspect: tuple[int, int] | None) -> Path:
    """``src`` as an RGB png, centre-cropped to ``aspect`` (w, h); the crop is logged by the caller."""
    from PIL import Image, UnidentifiedImageError

    from generators.normalize import crop_box

    try:
        with Image.open(src) as im:
            im = im.convert("RGB")
            if aspect is not None:
                im = im.crop(crop_box(im.width, im.height, *aspect))
            with atomic_path(dst) as tmp:
                im.save(tmp, format="PNG")
    except (OSError, UnidentifiedImageError) as e:
        raise StagingError(f"portrait {src}: cannot be read as an image ({type(e).__name__})") from None
    return dst


def stage_audio(src: Path, dst: Path, rate: int) -> Path:
    """``src`` as a 16-bit PCM wav at ``rate`` Hz: linked when it already is one, else converted."""
    if _is_pcm16_wav(src, rate):
        dst.unlink(missing_ok=True)
        dst.symlink_to(src.resolve())
        return dst
    with atomic_path(dst) as tmp:
        _ffmpeg(["-i", str(src), "-vn", "-ac", "1", "-ar", str(rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)],
                what=f"audio {src}")
    return dst


def stage_skeleton(src: Path, dst: Path, fps: float | None) -> Path:
    """``src`` with ``dst``'s suffix and ``fps``: linked when it already conforms, else re-encoded."""
    from storage.errors import CurateError
    from storage.media import probe_video

    try:
        probe = probe_video(src, "skeleton video")
    except CurateError as e:
        raise StagingError(f"skeleton {src}: {e}") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == dst.suffix and (fps is None or abs(probe.fps - fps) < 0.01):
        dst.unlink(missing_ok=True)
        dst.symlink_to(src.resolve())
        return dst
    # fps filter: frames are dropped or repeated so the motion keeps its real duration.
    vf = ["-vf", f"fps={fps:g}"] if fps else []
    with atomic_path(dst) as tmp:
        _ffmpeg(["-i", str(src), *vf, "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast",
                 "-f", "mp4", str(tmp)], what=f"skeleton {src}")
    return dst


def _is_pcm16_wav(path: Path, rate: int) -> bool:
    if path.suffix.lower() != ".wav":
        return False
    try:
        with wave.open(str(path)) as w:
            return w.getsampwidth() == 2 and w.getframerate() == rate
    except (wave.Error, EOFError, OSError):
        return False


def _ffmpeg(args: list[str], what: str) -> None:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
        raise StagingError(f"{what}: cannot be converted: {last}")


def _log(log: Path, lines: list[str]) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write("".join(line + "\n" for line in lines))
