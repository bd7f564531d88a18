"""``[limits]`` in curate.toml: how big an input may be before it is refused with one line.

Each limit keeps one crafted or careless file from taking the machine down later: a 10k x 10k portrait decodes to
300 MB, a two-hour audio makes ``generate`` allocate gigabytes, a candidate far longer than its clip makes ``eval``
decode thousands of frames, and a small Parquet file can hold hundreds of millions of rows. The refusals name the
file (and row) and the limit, and say which setting raises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from storage.errors import CurateError, WorkspaceError


@dataclass(frozen=True)
class Limits:
    """Input limits, checked at ingest, import and before decoding."""

    max_image_pixels: int = field(default=4096 * 4096, metadata={
        "help": "Portrait images: at most this many pixels (width x height), read from the header before decoding."})
    max_audio_seconds: float = field(default=600.0, metadata={
        "help": "Clip audio: at most this many seconds."})
    max_video_ratio: float = field(default=2.0, metadata={
        "help": "A candidate or ground-truth video may last at most this many times its clip's audio, plus "
                "`video_slack_seconds`."})
    video_slack_seconds: float = field(default=1.0, metadata={
        "help": "Seconds a video may run past `max_video_ratio` x its clip's audio (rounding, encoder padding)."})
    max_decoded_frames: int = field(default=1500, metadata={
        "help": "Frames of one video decoded into memory at once (eval, the training cache); longer videos are "
                "refused before decoding."})
    max_manifest_rows: int = field(default=1_000_000, metadata={
        "help": "Rows of one manifest (ingest, imports, gold), read from the file's metadata or counted before "
                "it is loaded."})

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise WorkspaceError(f"limits.{f.name} must be a number >= 0. Got {v!r}.")
        for name in ("max_image_pixels", "max_decoded_frames", "max_manifest_rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise WorkspaceError(f"limits.{name} must be an integer >= 1. Got {getattr(self, name)!r}.")
        if not self.max_audio_seconds > 0 or not self.max_video_ratio > 0:
            raise WorkspaceError("limits.max_audio_seconds and limits.max_video_ratio must be > 0.")

    @classmethod
    def from_workspace(cls, ws) -> Limits:
        """The workspace's ``[limits]`` (defaults for what it leaves out)."""
        from storage.workspace import section_config

        return section_config(cls, ws.config.limits, "limits")

    def max_video_seconds(self, audio_seconds: float) -> float:
        """The longest video allowed for a clip whose audio lasts ``audio_seconds``."""
        return self.max_video_ratio * audio_seconds + self.video_slack_seconds

    def check_video_length(self, seconds: float, audio_seconds: float, what: str) -> None:
        """Refuse a video far longer than its clip's audio (one line naming ``what`` and the limit)."""
        cap = self.max_video_seconds(audio_seconds)
        if seconds > cap:
            raise CurateError(
                f"{what}: video lasts {seconds:.1f} s, more than the limit of {cap:.1f} s for a clip whose audio "
                f"lasts {audio_seconds:.1f} s (limits.max_video_ratio = {self.max_video_ratio:g}, "
                f"limits.video_slack_seconds = {self.video_slack_seconds:g} in curate.toml).")


DEFAULT_LIMITS = Limits()
