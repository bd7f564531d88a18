"""Local weight files named in ``[eval]`` of curate.toml: found, hash-checked, or a clear reason to skip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from storage.errors import CurateError
from storage.media import sha256_file

# Where the standard file of each setting comes from (the user downloads it; we never do).
SOURCES = {
    "syncnet": "syncnet_v2.model from joonson/syncnet_python (download_model.sh: "
    "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model)",
    "inception": "inception-2015-12-05.pt, the TorchScript FID Inception of NVlabs stylegan2-ada-pytorch "
    "(https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt)",
    "i3d": "i3d_torchscript.pt, the TorchScript FVD I3D of StyleGAN-V "
    "(https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt)",
    "lpips_backbone": "alexnet-owt-7be5be79.pth, torchvision's ImageNet AlexNet "
    "(https://download.pytorch.org/models/alexnet-owt-7be5be79.pth)",
    "s3fd": "sfd_face.pth, the S3FD face detector of joonson/syncnet_python (download_model.sh: "
    "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth)",
    "dwpose": "dw-ll_ucoco_384.onnx, DWPose's whole-body model (IDEA-Research/DWPose; "
    "https://huggingface.co/yzd-v/DWPose/resolve/main/dw-ll_ucoco_384.onnx)",
}

# torchvision names its files <name>-<first 8 hex digits of the SHA-256>.pth; when a file keeps
# that name the prefix is checked even without an eval.sha256 entry.
_TV_SUFFIX = re.compile(r"-([0-9a-f]{8})\.pth?$")


@dataclass(frozen=True)
class Skip:
    """Why a metric did not run (missing weights, no ground truth, ...)."""

    metric: str
    reason: str


class WeightsMissing(CurateError):
    """A metric's weight setting is empty or names no file."""


def missing_message(setting: str, path: str) -> str:
    where_from = SOURCES[setting]
    if not path:
        return f'eval.{setting} is not set in curate.toml; download {where_from} and set eval.{setting} = "PATH".'
    return f"eval.{setting} = {path!r}: no such file; download {where_from} and point eval.{setting} at it."


def resolve_weights(root: Path, setting: str, value: str, expected_sha256: str | None = None) -> Path:
    """The weight file of ``setting`` (relative to the workspace ``root``), after its hash check.

    Raises:
        WeightsMissing: the setting is empty or the file does not exist.
        CurateError: the file's SHA-256 is not the expected one.
    """
    path = (root / value).resolve() if value else None
    if path is None or not path.is_file():
        raise WeightsMissing(missing_message(setting, value))
    if expected_sha256 is not None:
        got = sha256_file(path)
        if got != expected_sha256:
            raise CurateError(
                f"eval.{setting} = {value!r}: SHA-256 {got} differs from "
                f"eval.sha256.{setting} = {expected_sha256}; "
                "the file is corrupt or another model."
            )
    else:
        m = _TV_SUFFIX.search(path.name)
        if m and not sha256_file(path).startswith(m.group(1)):
            raise CurateError(
                f"eval.{setting} = {value!r}: the file name promises a SHA-256 starting {m.group(1)} "
                "(torchvision's naming), but the content differs; download it again."
            )
    return path
