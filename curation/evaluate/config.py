"""``[eval]`` of curate.toml: the local weight files and the conventions of ``curate eval`` (docs/eval.md).

Light on purpose (standard library and storage only): the CLI validates the section on every command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.errors import WorkspaceError
from storage.workspace import Workspace, section_config

# Settings of `[eval]` that name weight files (see docs/eval.md for where each comes from).
EVAL_WEIGHTS = ("syncnet", "inception", "i3d", "lpips_backbone", "dwpose")


@dataclass
class EvalConfig:
    """``[eval]``: local weight files for ``curate eval`` (nothing is downloaded); empty = metric skipped.

    Paths are relative to the workspace folder. ``sha256`` maps a setting name to the
    expected SHA-256 of its file, checked before loading (docs/eval.md lists known ones).
    """

    syncnet: str = field(default="", metadata={"help": "SyncNet checkpoint (syncnet_v2.model) for Sync-C/D."})
    inception: str = field(default="", metadata={"help": "TorchScript FID Inception (inception-2015-12-05.pt)."})
    i3d: str = field(default="", metadata={"help": "TorchScript FVD I3D (i3d_torchscript.pt)."})
    lpips_backbone: str = field(default="", metadata={"help": "torchvision AlexNet state dict for LPIPS."})
    dwpose: str = field(default="", metadata={"help": "DWPose whole-body ONNX (dw-ll_ucoco_384.onnx), HKC/HKV."})
    sha256: dict[str, str] = field(default_factory=dict, metadata={"help": "Expected SHA-256 per weight setting."})
    face_crop: str = field(default="face", metadata={"help": "Sync crop: 'face' (detect) or 'full' frame."})
    # The conventions of the papers' metrics (kept together; docs/eval.md).
    s3fd: str = field(default="", metadata={
        "help": "S3FD face detector weights (syncnet_python's sfd_face.pth) for Sync; not supported yet: "
                "setting it is refused. Empty: OpenCV's Haar cascade, reported as the fallback."})
    sync_min_track: int = field(default=100, metadata={
        "help": "Sync: a face track needs more than this many frames at 25 fps (syncnet_python: 100; 0 relaxes)."})
    sync_min_face: float = field(default=100.0, metadata={
        "help": "Sync: a face track's mean box side must exceed this many pixels (syncnet_python: 100; 0 relaxes)."})
    sync_scene_cuts: bool = field(default=True, metadata={
        "help": "Sync: scene cuts split face tracks (syncnet_python's PySceneDetect step); false: one shot."})
    fvd_clips: str = field(default="first", metadata={
        "help": "FVD clips per video: 'first' (StyleGAN-V: one 16-frame clip from the start) or 'all' "
                "(every non-overlapping 16-frame window)."})

    @classmethod
    def from_workspace(cls, ws: Workspace) -> EvalConfig:
        """The workspace's ``[eval]`` table, checked."""
        return section_config(cls, ws.config.eval, "eval")

    def __post_init__(self) -> None:
        for name in EVAL_WEIGHTS:
            if not isinstance(getattr(self, name), str):
                raise WorkspaceError(f"eval.{name} must be a path string. Got {getattr(self, name)!r}.")
        for name, digest in self.sha256.items():
            if name not in EVAL_WEIGHTS:
                raise WorkspaceError(f"eval.sha256: unknown setting {name!r}; known: {list(EVAL_WEIGHTS)}.")
            if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                raise WorkspaceError(f"eval.sha256.{name} must be 64 lower-case hex digits. Got {digest!r}.")
        if self.face_crop not in ("face", "full"):
            raise WorkspaceError(f"eval.face_crop must be 'face' or 'full'. Got {self.face_crop!r}.")
        self._check_protocol()

    def _check_protocol(self) -> None:
        """The protocol settings: types and ranges."""
        if not isinstance(self.s3fd, str):
            raise WorkspaceError(f"eval.s3fd must be a path string. Got {self.s3fd!r}.")
        if isinstance(self.sync_min_track, bool) or not isinstance(self.sync_min_track, int) or self.sync_min_track < 0:
            raise WorkspaceError(f"eval.sync_min_track must be an integer >= 0. Got {self.sync_min_track!r}.")
        if isinstance(self.sync_min_face, bool) or not isinstance(self.sync_min_face, (int, float)) \
                or not self.sync_min_face >= 0:
            raise WorkspaceError(f"eval.sync_min_face must be a number >= 0 (pixels). Got {self.sync_min_face!r}.")
        if not isinstance(self.sync_scene_cuts, bool):
            raise WorkspaceError(f"eval.sync_scene_cuts must be true or false. Got {self.sync_scene_cuts!r}.")
        if self.fvd_clips not in ("first", "all"):
            raise WorkspaceError(f"eval.fvd_clips must be 'first' or 'all'. Got {self.fvd_clips!r}.")
