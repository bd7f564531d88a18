"""The shape every generator adapter has: a Protocol plus frozen request/result records.

The Protocol is for shape only; adapters share no base class. A generator gets a
batch of requests (all for its own method) and a private working folder, and returns
one result per request, in any order, keyed by ``job_id``. It never touches the
store: the runner normalises each raw video and registers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_PROMPT", "DEFAULT_SEED", "GenerationRequest", "GenerationResult", "VideoGenerator"]

# Used by the text-conditioned baselines (FantasyTalking, Hallo3, Hallo4) when a clip has no prompt.
DEFAULT_SEED = 42
DEFAULT_PROMPT = "A person is talking to the camera."


@dataclass(frozen=True)
class GenerationRequest:
    """One clip to animate with one method.

    Attributes:
        job_id: the store's generation job id (unique, stable across retries).
        clip_id: the clip's natural key (used for readable file names).
        image_path: reference portrait.
        audio_path: driving audio.
        audio_duration: seconds of driving audio.
        prompt: the clip's text prompt, or None (adapters fall back to their default).
        skeleton_path: pose video / folder of per-frame pose files, or None.
        seed: the seed the adapter must pass upstream (reproducible reruns).
    """

    job_id: int
    clip_id: str
    image_path: Path
    audio_path: Path
    audio_duration: float
    prompt: str | None = None
    skeleton_path: Path | None = None
    seed: int = 0

    @property
    def safe_id(self) -> str:
        """A file-name-safe, unique stem for this request (``j<job_id>``)."""
        return f"j{self.job_id}"


@dataclass(frozen=True)
class GenerationResult:
    """What a generator made for one request: a raw video, or an error saying why not.

    Attributes:
        job_id: the request's job id.
        raw_path: the upstream's output file (inside the working folder), or None on error.
        error: one readable line (plus any upstream stderr tail), or None on success.
    """

    job_id: int
    raw_path: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.raw_path is not None


@runtime_checkable
class VideoGenerator(Protocol):
    """A candidate source: a built-in renderer, an upstream baseline, or imported files."""

    name: str
    #: "builtin" (CPU, no weights), "upstream" (subprocess in its own env) or "import".
    kind: str

    def check(self) -> list[str]:
        """Plain-language list of what is missing to run (empty when ready)."""
        ...

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        """Make one raw video per request inside ``workdir``; never raises for a single bad clip."""
        ...
