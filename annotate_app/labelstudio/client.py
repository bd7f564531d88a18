"""Label Studio settings and the checked SDK client; every SDK call goes through ``call``.

``label_studio_sdk`` is imported only when a client is built, so importing this module is cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select

from storage.errors import CurateError
from storage.models import TASKS_PER_CANDIDATE, TASKS_PER_CLIP, LabelStudioProject
from storage.workspace import Workspace

# One logger for the whole bridge, named after the public module: that is the name users configure.
log = logging.getLogger("annotate_app.labelstudio")
T = TypeVar("T")

SOURCE = "labelstudio"  # Rating.source and Annotator.source of everything pulled
LOCAL_FILES_PREFIX = "/data/local-files/?d="
MEDIA_DIR = "labelstudio-media"  # under the document root; one sub-folder per project
IMPORT_BATCH = 500


@dataclass
class LabelStudioConfig:
    """How to reach Label Studio and what to push (docs/labelstudio.md). The API key is never printed or
    logged; error messages have it replaced by ``***``."""

    url: str = field(default="", metadata={"help": "Server base URL, e.g. http://127.0.0.1:8080 ($LABEL_STUDIO_URL)."})
    api_key: str = field(default="", repr=False, metadata={
        "help": "A legacy token or a personal access token ($LABEL_STUDIO_API_KEY)."})
    project: str = field(default="curate", metadata={
        "help": "Project title; the workspace remembers which Label Studio project it is (1-200 characters)."})
    per: str | None = field(default=None, metadata={
        "help": "'clip' (one task per clip, all its videos) or 'candidate' (one task per video); fixed when the "
                "project is created. None: the project's, 'clip' for a new one."})
    document_root: Path | None = field(default=None, metadata={
        "help": "The server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT as seen from here; blind links to the media "
                "are made under it. None: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else the first media root."})
    media_url_prefix: str | None = field(default=None, metadata={
        "help": "Serve the links from elsewhere: task URLs become prefix + <path under the document root> and no "
                "local-files storage is made. None: Label Studio's own /data/local-files/?d=."})
    timeout_s: float = field(default=60.0, metadata={"help": "Per-request timeout, seconds (> 0)."})
    fps: float = field(default=25.0, metadata={
        "help": "Frame rate of the pushed videos, for the labelling player's frame steps; the CLI passes the "
                "workspace's [normalize] fps (> 0)."})

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise CurateError(
                f"Label Studio URL must start with http:// or https://. Got {self.url!r} (set LABEL_STUDIO_URL or --url)."
            )
        if not self.api_key:
            raise CurateError(
                "No Label Studio API key: set LABEL_STUDIO_API_KEY (a legacy token or a personal access token)."
            )
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not self.fps > 0:
            raise CurateError(f"fps must be a number > 0. Got {self.fps!r}.")
        if not self.project.strip() or len(self.project) > 200:
            raise CurateError(f"--project must be 1-200 characters. Got {self.project!r}.")
        if self.per not in (None, TASKS_PER_CLIP, TASKS_PER_CANDIDATE):
            raise CurateError(
                f"--per must be {TASKS_PER_CLIP!r} or {TASKS_PER_CANDIDATE!r}. Got {self.per!r}."
            )
        if self.timeout_s <= 0:
            raise CurateError(f"timeout_s must be > 0. Got {self.timeout_s}.")
        self.url = self.url.rstrip("/")
        if self.document_root is not None:
            self.document_root = Path(self.document_root).resolve()


def _redact(text: str, cfg: LabelStudioConfig) -> str:
    return text.replace(cfg.api_key, "***") if cfg.api_key else text


def call(cfg: LabelStudioConfig, what: str, fn: Callable[[], T]) -> T:
    """Run one SDK call; turn its errors into a CurateError without headers (cookies) or the key."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        return fn()
    except ApiError as e:
        body = e.body
        if isinstance(body, dict):
            body = body.get("validation_errors") or body.get("detail") or body
        hint = " (check LABEL_STUDIO_API_KEY)" if e.status_code in (401, 403) else ""
        msg = f"Label Studio refused {what}: HTTP {e.status_code}{hint}: {str(body)[:600]}"
    except httpx.HTTPError as e:
        msg = f"Label Studio at {cfg.url} not reachable while {what}: {type(e).__name__}: {e}"
    raise CurateError(_redact(msg, cfg))


def _sdk_client_class():
    import warnings

    try:
        with warnings.catch_warnings():  # the SDK's pydantic-v1-style models warn on import; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            from label_studio_sdk import LabelStudio
    except ImportError as e:
        raise CurateError(
            f"The Label Studio SDK is not installed ({e}): pip install 'portrait-curate[labelstudio]' "
            "(label-studio-sdk 2.0.20)."
        ) from None
    return LabelStudio


def connect(cfg: LabelStudioConfig):
    """A checked ``LabelStudio`` client (legacy token or PAT; the SDK refreshes PAT access tokens)."""
    LabelStudio = _sdk_client_class()
    client = call(
        cfg, "the API key", lambda: LabelStudio(base_url=cfg.url, api_key=cfg.api_key, timeout=cfg.timeout_s)
    )
    me = call(cfg, "the API key", client.users.whoami)
    log.info("connected to Label Studio at %s as user %s", cfg.url, me.id)
    return client


def default_project_title(ws: Workspace) -> str:
    return f"curate {ws.root.name}"


def find_project(store, cfg: LabelStudioConfig) -> LabelStudioProject | None:
    """This workspace's record of the project ``cfg`` names, if it pushed one to that server."""
    q = select(LabelStudioProject).where(
        LabelStudioProject.server == cfg.url, LabelStudioProject.title == cfg.project
    )
    with store.session() as s:
        return s.scalar(q)
