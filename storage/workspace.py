"""The workspace: a folder with ``curate.toml`` and, by default, the SQLite store.

Every command finds its workspace from ``--workspace/-w``, else ``CURATE_WORKSPACE``,
else the current folder. ``--db`` / ``CURATE_DB_URL`` override the configured
database URL (e.g. PostgreSQL for teams); the URL may carry a password, so it is
only ever shown redacted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from storage.atomic import atomic_write_text
from storage.errors import WorkspaceError

CONFIG_NAME = "curate.toml"
DEFAULT_DB_NAME = "curate.db"


@dataclass
class RubricAxis:
    """One Likert axis as annotators see it."""

    name: str = field(metadata={"help": "The rating column it fills: `alignment` or `fidelity`."})
    title: str = field(metadata={"help": "Heading shown above the scale."})
    question: str = field(metadata={"help": "The question the annotator answers."})
    low: str = field(metadata={"help": "Anchor text for a score of 1."})
    high: str = field(metadata={"help": "Anchor text for a score of 5."})

    def __post_init__(self) -> None:
        for f in ("name", "title", "question", "low", "high"):
            if not str(getattr(self, f)).strip():
                raise WorkspaceError(f"rubric axis {self.name!r}: `{f}` must not be empty.")


def default_rubric() -> dict[str, RubricAxis]:
    return {
        "alignment": RubricAxis(
            name="alignment",
            title="Motion-video alignment",
            question="Do the lips, head and body move in sync with the audio?",
            low="1 = no visible sync: mouth moves at random or not at all",
            high="5 = perfect sync: every syllable and beat matches the motion",
        ),
        "fidelity": RubricAxis(
            name="fidelity",
            title="Portrait fidelity",
            question="Is the face natural and well rendered (expression, identity, artefacts)?",
            low="1 = broken: distorted face, flicker, identity lost",
            high="5 = indistinguishable from a real recording",
        ),
    }


@dataclass
class NormalizeConfig:
    """The common format every candidate is brought to before rating."""

    fps: float = field(default=25.0, metadata={"help": "Frames per second of normalised candidates (> 0)."})
    width: int = field(default=512, metadata={"help": "Output width in pixels (positive, even: H.264)."})
    height: int = field(default=512, metadata={"help": "Output height in pixels (positive, even: H.264)."})
    max_seconds: float = field(default=10.0, metadata={
        "help": "Cap on candidate length; below it the shorter of audio and video is used (> 0)."})

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise WorkspaceError(f"normalize.fps must be > 0. Got {self.fps}.")
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise WorkspaceError(
                f"normalize.width/height must be positive and even (H.264). Got {self.width}x{self.height}."
            )
        if self.max_seconds <= 0:
            raise WorkspaceError(f"normalize.max_seconds must be > 0. Got {self.max_seconds}.")


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
    # --- issue 24: the conventions of the papers' metrics (kept together; docs/eval.md) ---
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
        """Issue 24's settings: types and ranges."""
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


@dataclass
class WorkspaceConfig:
    """Everything in ``curate.toml``.

    Store:
        database_url: SQLAlchemy URL; relative SQLite paths are relative to the workspace.
    Media:
        media_roots: folders that manifest paths may point into (relative to the workspace).
    Annotation:
        overlap: k, how many annotators rate each clip.
        lease_minutes: how long a handed-out clip stays reserved for its annotator.
        overlap_max: adaptive overlap: a clip whose k ratings disagree asks for more annotators,
            one at a time, up to this many (unset: off; see docs/annotate.md).
        disagree_spread: the spread of a candidate's composite score over annotators that counts
            as disagreement (adaptive overlap).
        allocation: "uniform" (every clip k raters) or "active" (the clip whose pair is most in doubt per
            second of the annotator's time; see docs/stats.md).
        settle_confidence: active allocation: a clip whose pair confidence reaches this is no longer handed out.
        refit_seconds: active allocation: the annotator model is refitted in the background this often.
        rubric: the text of the two Likert axes.
    Generation:
        normalize: the common output format.
        generators: per-method settings (checkout, python, weights, extra args), free-form tables.
    Evaluation:
        eval: local weight files of `curate eval`'s metrics.
    """

    database_url: str = field(default=f"sqlite:///{DEFAULT_DB_NAME}", metadata={
        "help": "[store] SQLAlchemy URL; relative SQLite paths are relative to the workspace. Never store a password "
                "here: use --db / $CURATE_DB_URL."})
    media_roots: list[str] = field(default_factory=lambda: ["."], metadata={
        "help": "[media] roots: folders manifest paths may point into (relative to the workspace)."})
    overlap: int = field(default=3, metadata={"help": "[annotation] k, how many annotators rate each clip (>= 1)."})
    lease_minutes: float = field(default=30.0, metadata={
        "help": "[annotation] How long a handed-out clip stays reserved for its annotator (> 0)."})
    overlap_max: int | None = field(default=None, metadata={
        "help": "[annotation] Adaptive overlap: a clip whose k ratings disagree asks for one more annotator at a "
                "time, up to this many (>= overlap); unset = fixed k."})
    disagree_spread: float = field(default=2.0, metadata={
        "help": "[annotation] The spread of a candidate's composite score over annotators that counts as "
                "disagreement (> 0)."})
    allocation: str = field(default="uniform", metadata={
        "help": "[annotation] uniform: every clip gets k raters; active: the next clip is the one whose best-vs-worst "
                "pair would firm up most per second of the annotator's time (at least 1, at most overlap_max raters)."})
    settle_confidence: float = field(default=0.95, metadata={
        "help": "[annotation] Active allocation: a clip whose pair confidence reaches this stops being handed out, "
                "even below k (0.5 < x < 1)."})
    refit_seconds: float = field(default=120.0, metadata={
        "help": "[annotation] Active allocation: how often the annotator model is refitted in the background "
                "(> 0)."})
    rubric: dict[str, RubricAxis] = field(default_factory=default_rubric, metadata={
        "help": "[rubric.alignment], [rubric.fidelity]: the text of the two Likert axes."})
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig, metadata={
        "help": "[normalize] The common format every candidate is brought to."})
    generators: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={
        "help": "[generators.NAME] Per-method settings (checkout, python, weights, extra args), validated by the "
                "method's own config class."})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={
        "help": "[eval] Local weight files of curate eval's metrics."})

    def __post_init__(self) -> None:
        if not isinstance(self.database_url, str) or "://" not in self.database_url:
            raise WorkspaceError(f"store.database_url must be a SQLAlchemy URL string. Got {self.database_url!r}.")
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise WorkspaceError(f"annotation.overlap must be an integer >= 1. Got {self.overlap!r}.")
        if self.lease_minutes <= 0:
            raise WorkspaceError(f"annotation.lease_minutes must be > 0. Got {self.lease_minutes}.")
        if self.overlap_max is not None and (not isinstance(self.overlap_max, int) or self.overlap_max < self.overlap):
            raise WorkspaceError(f"annotation.overlap_max must be an integer >= overlap. Got {self.overlap_max!r}.")
        if not self.disagree_spread > 0:
            raise WorkspaceError(f"annotation.disagree_spread must be > 0. Got {self.disagree_spread}.")
        if self.allocation not in ("uniform", "active"):
            raise WorkspaceError(f"annotation.allocation must be 'uniform' or 'active'. Got {self.allocation!r}.")
        if not 0.5 < self.settle_confidence < 1:
            raise WorkspaceError(f"annotation.settle_confidence must be in (0.5, 1). Got {self.settle_confidence}.")
        if not self.refit_seconds > 0:
            raise WorkspaceError(f"annotation.refit_seconds must be > 0. Got {self.refit_seconds}.")
        if set(self.rubric) != {"alignment", "fidelity"}:
            raise WorkspaceError(f"rubric must define exactly `alignment` and `fidelity`. Got {sorted(self.rubric)}.")
        if not self.media_roots:
            raise WorkspaceError("media.roots must list at least one folder.")

    def to_toml(self) -> dict[str, Any]:
        return {
            "store": {"database_url": self.database_url},
            "media": {"roots": list(self.media_roots)},
            "annotation": {"overlap": self.overlap, "lease_minutes": self.lease_minutes,
                           "disagree_spread": self.disagree_spread, "allocation": self.allocation,
                           "settle_confidence": self.settle_confidence, "refit_seconds": self.refit_seconds}
            | ({"overlap_max": self.overlap_max} if self.overlap_max is not None else {}),
            "rubric": {k: {f: v for f, v in asdict(ax).items() if f != "name"} for k, ax in self.rubric.items()},
            "normalize": asdict(self.normalize),
            "generators": self.generators,
            "eval": asdict(self.eval),
        }

    @classmethod
    def from_toml(cls, data: dict[str, Any], source: str = CONFIG_NAME) -> WorkspaceConfig:
        known = {"store", "media", "annotation", "rubric", "normalize", "generators", "eval"}
        unknown = set(data) - known
        if unknown:
            raise WorkspaceError(f"{source}: unknown section(s) {sorted(unknown)}; known: {sorted(known)}.")
        try:
            ann = data.get("annotation", {})
            rubric = default_rubric()
            for name, ax in data.get("rubric", {}).items():
                rubric[name] = RubricAxis(name=name, **ax)
            return cls(
                database_url=data.get("store", {}).get("database_url", cls.database_url),
                media_roots=list(data.get("media", {}).get("roots", ["."])),
                overlap=ann.get("overlap", 3),
                lease_minutes=float(ann.get("lease_minutes", 30.0)),
                overlap_max=ann.get("overlap_max"),
                disagree_spread=float(ann.get("disagree_spread", 2.0)),
                allocation=ann.get("allocation", "uniform"),
                settle_confidence=float(ann.get("settle_confidence", 0.95)),
                refit_seconds=float(ann.get("refit_seconds", 120.0)),
                rubric=rubric,
                normalize=NormalizeConfig(**data.get("normalize", {})),
                generators=dict(data.get("generators", {})),
                eval=EvalConfig(**data.get("eval", {})),
            )
        except TypeError as e:  # unknown key inside a section
            raise WorkspaceError(f"{source}: {e}") from None
        except WorkspaceError as e:
            raise WorkspaceError(f"{source}: {e}") from None


@dataclass
class Workspace:
    """An opened workspace folder and its config."""

    root: Path
    config: WorkspaceConfig
    db_override: str | None = None

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def database_url(self) -> str:
        url = self.db_override or self.config.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    @property
    def media_roots(self) -> list[Path]:
        return [(self.root / r).resolve() for r in self.config.media_roots]

    def path(self, *parts: str) -> Path:
        """A folder or file inside the workspace (e.g. ``ws.path("media", "candidates")``)."""
        return self.root.joinpath(*parts)

    def open_store(self):
        """The migrated store; the caller disposes of it (see :meth:`store` for the usual case)."""
        from storage import open_store

        return open_store(self.database_url)

    @contextmanager
    def store(self) -> Iterator:
        """``with ws.store() as store:``: the store, disposed of (connections closed) on the way out."""
        store = self.open_store()
        try:
            yield store
        finally:
            store.dispose()


def resolve_root(workspace: str | os.PathLike | None) -> Path:
    """The workspace folder from the flag, else ``CURATE_WORKSPACE``, else the current folder."""
    return Path(workspace or os.environ.get("CURATE_WORKSPACE") or ".").resolve()


def load(workspace: str | os.PathLike | None = None, db: str | None = None) -> Workspace:
    """Open an existing workspace, or raise :class:`WorkspaceError` saying how to make one."""
    root = resolve_root(workspace)
    cfg_path = root / CONFIG_NAME
    if not cfg_path.is_file():
        raise WorkspaceError(
            f"No workspace at {root} (no {CONFIG_NAME}). Create one with `curate init {root}`, "
            "or point at one with --workspace DIR or CURATE_WORKSPACE."
        )
    try:
        data = tomllib.loads(cfg_path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise WorkspaceError(f"{cfg_path}: invalid TOML: {e}") from None
    cfg = WorkspaceConfig.from_toml(data, source=str(cfg_path))
    return Workspace(root=root, config=cfg, db_override=db or os.environ.get("CURATE_DB_URL") or None)


def init(directory: str | os.PathLike, db: str | None = None, overlap: int = 3) -> Workspace:
    """Create a workspace (config, media folders, migrated store); an existing one is left as it is."""
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    cfg_path = root / CONFIG_NAME
    if not cfg_path.exists():
        cfg = WorkspaceConfig(overlap=overlap)
        if db and not _has_password(db):
            cfg.database_url = db  # persisted; a URL with a password stays in the environment only
        atomic_write_text(cfg_path, _HEADER + tomli_w.dumps(cfg.to_toml()))
    for sub in ("media", "manifests", "exports", "logs"):
        (root / sub).mkdir(exist_ok=True)
    ws = load(root, db=db)
    ws.open_store().dispose()
    return ws


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(url).password is not None


_HEADER = """\
# portrait-curate workspace. Edit freely; `curate` validates this file on every command.
# store.database_url: SQLAlchemy URL (relative sqlite paths are inside this folder);
#   override per command with --db URL or CURATE_DB_URL (e.g. postgresql+psycopg://user@host/db).
# media.roots: folders manifests may point into; paths outside them are refused.
# annotation.overlap: how many annotators rate each clip (k); annotation.overlap_max (optional): clips
#   whose k ratings disagree (a composite spread >= annotation.disagree_spread, or different best or
#   worst candidates) ask for more annotators, one at a time, up to this many.
# generators.<method>: checkout, python, weights, extra_args for each baseline (see `curate generators check`).
# eval: local weight files of `curate eval` (syncnet, inception, i3d, lpips_backbone, dwpose): docs/eval.md.

"""
