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
class WorkspaceConfig:
    """Everything in ``curate.toml``.

    The store, the media roots and the rubric are checked here. The feature sections stay raw tables, each
    checked by its feature's own config dataclass (one definition per setting), as ``[generators.NAME]`` by
    its method's config: ``[annotation]`` by ``annotate_app.assign.AssignConfig``, ``[normalize]`` by
    ``generators.normalize_config.NormalizeConfig``, ``[eval]`` by ``curation.evaluate.config.EvalConfig``.
    The CLI checks every section on every command (``curation.cli._util.check_sections``).
    """

    database_url: str = field(default=f"sqlite:///{DEFAULT_DB_NAME}", metadata={
        "help": "[store] SQLAlchemy URL; relative SQLite paths are relative to the workspace. Never store a password "
                "here: use --db / $CURATE_DB_URL."})
    media_roots: list[str] = field(default_factory=lambda: ["."], metadata={
        "help": "[media] roots: folders manifest paths may point into (relative to the workspace)."})
    rubric: dict[str, RubricAxis] = field(default_factory=default_rubric, metadata={
        "help": "[rubric.alignment], [rubric.fidelity]: the text of the two Likert axes."})
    annotation: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "[annotation] How clips are handed out (k, leases, adaptive overlap), validated by "
                "annotate_app.assign.AssignConfig."})
    normalize: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "[normalize] The common format every candidate is brought to, validated by "
                "generators.normalize_config.NormalizeConfig."})
    generators: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={
        "help": "[generators.NAME] Per-method settings (checkout, python, weights, extra args), validated by the "
                "method's own config class."})
    eval: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "[eval] Local weight files and conventions of curate eval's metrics, validated by "
                "curation.evaluate.config.EvalConfig."})

    def __post_init__(self) -> None:
        if not isinstance(self.database_url, str) or "://" not in self.database_url:
            raise WorkspaceError(f"store.database_url must be a SQLAlchemy URL string. Got {self.database_url!r}.")
        for section in ("annotation", "normalize", "generators", "eval"):
            if not isinstance(getattr(self, section), dict):
                raise WorkspaceError(f"[{section}] must be a table. Got {getattr(self, section)!r}.")
        if set(self.rubric) != {"alignment", "fidelity"}:
            raise WorkspaceError(f"rubric must define exactly `alignment` and `fidelity`. Got {sorted(self.rubric)}.")
        if not self.media_roots:
            raise WorkspaceError("media.roots must list at least one folder.")

    def to_toml(self) -> dict[str, Any]:
        return {
            "store": {"database_url": self.database_url},
            "media": {"roots": list(self.media_roots)},
            "annotation": dict(self.annotation),
            "rubric": {k: {f: v for f, v in asdict(ax).items() if f != "name"} for k, ax in self.rubric.items()},
            "normalize": dict(self.normalize),
            "generators": self.generators,
            "eval": dict(self.eval),
        }

    @classmethod
    def from_toml(cls, data: dict[str, Any], source: str = CONFIG_NAME) -> WorkspaceConfig:
        known = {"store", "media", "annotation", "rubric", "normalize", "generators", "eval"}
        unknown = set(data) - known
        if unknown:
            raise WorkspaceError(f"{source}: unknown section(s) {sorted(unknown)}; known: {sorted(known)}.")
        try:
            rubric = default_rubric()
            for name, ax in data.get("rubric", {}).items():
                rubric[name] = RubricAxis(name=name, **ax)
            return cls(
                database_url=data.get("store", {}).get("database_url", cls.database_url),
                media_roots=list(data.get("media", {}).get("roots", ["."])),
                annotation=dict(data.get("annotation", {})),
                rubric=rubric,
                normalize=dict(data.get("normalize", {})),
                generators=dict(data.get("generators", {})),
                eval=dict(data.get("eval", {})),
            )
        except TypeError as e:  # unknown key inside a section
            raise WorkspaceError(f"{source}: {e}") from None
        except WorkspaceError as e:
            raise WorkspaceError(f"{source}: {e}") from None


def section_config(cls, table: dict[str, Any], section: str):
    """``cls(**table)`` for a ``[section]`` of curate.toml: an unknown key or a bad value is one WorkspaceError
    naming the section (each feature's config dataclass does the checking)."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - known)
    if unknown:
        raise WorkspaceError(f"[{section}]: unknown setting(s) {unknown}; known: {sorted(known)}.")
    try:
        return cls(**table)
    except (TypeError, ValueError) as e:
        raise WorkspaceError(f"[{section}]: {e}") from None


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


def init(directory: str | os.PathLike, db: str | None = None, overlap: int = 3,
         sections: dict[str, dict[str, Any]] | None = None) -> Workspace:
    """Create a workspace (config, media folders, migrated store); an existing one is left as it is.

    ``overlap`` is written as ``[annotation] overlap`` (k); ``sections`` are the feature tables to start
    with (the CLI passes each feature's defaults). Each feature's config class checks its own table.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    cfg_path = root / CONFIG_NAME
    if not cfg_path.exists():
        tables = {name: dict(table) for name, table in (sections or {}).items()}
        tables.setdefault("annotation", {})["overlap"] = overlap
        cfg = WorkspaceConfig(**tables)
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
