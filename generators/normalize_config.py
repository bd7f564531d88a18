"""``[normalize]`` of curate.toml: the common format every candidate is brought to (generators/normalize.py).

Light on purpose (standard library and storage only): the CLI validates the section on every command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.errors import WorkspaceError
from storage.workspace import Workspace, section_config


@dataclass
class NormalizeConfig:
    """The common format every candidate is brought to before rating."""

    fps: float = field(default=25.0, metadata={"help": "Frames per second of normalised candidates (> 0)."})
    width: int = field(default=512, metadata={"help": "Output width in pixels (positive, even: H.264)."})
    height: int = field(default=512, metadata={"help": "Output height in pixels (positive, even: H.264)."})
    max_seconds: float = field(default=10.0, metadata={
        "help": "Cap on candidate length; below it the shorter of audio and video is used (> 0)."})

    @classmethod
    def from_workspace(cls, ws: Workspace) -> NormalizeConfig:
        """The workspace's ``[normalize]`` table, checked."""
        return section_config(cls, ws.config.normalize, "normalize")

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise WorkspaceError(f"normalize.fps must be > 0. Got {self.fps}.")
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise WorkspaceError(
                f"normalize.width/height must be positive and even (H.264). Got {self.width}x{self.height}."
            )
        if self.max_seconds <= 0:
            raise WorkspaceError(f"normalize.max_seconds must be > 0. Got {self.max_seconds}.")
