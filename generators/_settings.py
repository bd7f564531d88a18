"""Building an adapter's ``<Method>Config`` from its free-form ``[generators.<method>]`` table."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, TypeVar

from storage.errors import CurateError

T = TypeVar("T")

# Keys the runner and registry read from every table; adapters ignore them.
COMMON_KEYS = {"adapter", "batch_size", "retries", "seed"}


def build_config(cls: type[T], method: str, settings: dict[str, Any], root: Path,
                 also_known: tuple[str, ...] = ()) -> T:
    """``cls(**settings)`` with unknown keys refused and ``Path`` fields resolved against ``root``.

    also_known: keys of the table the caller validates itself (they are not in ``settings``), named in the hint.

    Raises:
        CurateError: naming the table and the bad key or value.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = set(settings) - set(fields) - COMMON_KEYS
    if unknown:
        known = sorted({*fields, *also_known})
        raise CurateError(f"curate.toml [generators.{method}]: unknown key(s) {sorted(unknown)}; known: {known}.")
    kwargs = {}
    for name, value in settings.items():
        if name not in fields:
            continue
        if "Path" in str(fields[name].type) and value is not None:
            p = Path(str(value)).expanduser()
            value = p if p.is_absolute() else (root / p)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise CurateError(f"curate.toml [generators.{method}]: {e}") from None


def missing_python(python: str | None, conda_env: str | None) -> list[str]:
    """What is missing to start the method's interpreter, in plain words."""
    if conda_env:
        return [] if shutil.which("conda") else [f"conda is not on PATH (needed for conda_env {conda_env!r})"]
    if not python:
        return ["no `python` (or `conda_env`) set: which interpreter runs this method?"]
    if Path(python).is_absolute():
        return [] if Path(python).is_file() else [f"python interpreter not found: {python}"]
    return [] if shutil.which(python) else [f"python interpreter {python!r} is not on PATH"]


def missing_paths(items: list[tuple[str, Path | None]]) -> list[str]:
    """``["checkout not found: /x", ...]`` for each (what, path) that does not exist."""
    out = []
    for what, path in items:
        if path is None:
            out.append(f"{what}: not configured")
        elif not Path(path).exists():
            out.append(f"{what} not found: {path}")
    return out


def missing_files(items: list[tuple[str, Path, str]]) -> list[str]:
    """What is wrong with each (what, path, "file"|"dir") an upstream will open: absent, or the wrong kind.

    A folder the upstream loads with ``from_pretrained`` must exist and not be empty.
    """
    out = []
    for what, path, kind in items:
        path = Path(path)
        if not path.exists():
            out.append(f"{what} not found: {path}")
        elif kind == "file" and not path.is_file():
            out.append(f"{what} must be a file, found a folder: {path}")
        elif kind == "dir" and not path.is_dir():
            out.append(f"{what} must be a folder, found a file: {path}")
        elif kind == "dir" and not any(path.iterdir()):
            out.append(f"{what} is an empty folder: {path}")
    return out


def stage(src: Path, dst: Path, copy: bool = False) -> Path:
    """Put an input where an upstream expects it: a symlink, or a real copy when upstream moves or edits it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if copy:
        shutil.copyfile(src, dst)
    else:
        dst.symlink_to(Path(src).resolve())
    return dst


def clean_prompt(prompt: str | None, default: str) -> str:
    """One line, no ``@@`` (the Fudan list files split on it)."""
    text = " ".join((prompt or default).replace("@@", " ").split())
    return text or default


WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".onnx", ".bin", ".tar", ".task", ".npy")


def yaml_weight_files(config: Path, prefix: str, weights: Path, what: str) -> list[tuple[str, Path, str]]:
    """(what, path, "file"|"dir") of every value in the YAML ``config`` that starts with ``prefix``.

    Upstream configs name their weights as ``./pretrained_model(s)/...`` relative to the cwd, where
    the adapters link the weights folder: those are mapped into ``weights``. A value with a weight
    file's suffix must be a file, any other one a (non-empty) folder loaded with ``from_pretrained``.
    """
    import yaml

    found: list[tuple[str, Path, str]] = []

    def walk(node, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and node.startswith(prefix):
            rest = node[len(prefix):].rstrip("/")
            kind = "file" if rest.endswith(WEIGHT_SUFFIXES) else "dir"
            found.append((f"{what} `{key}` ({config.name})", weights / rest, kind))

    walk(yaml.safe_load(config.read_text()) or {}, "")
    return unique_files(found)


def unique_files(files: list[tuple[str, Path, str]]) -> list[tuple[str, Path, str]]:
    """``files`` with each path once (the first mention names it): configs name one model for two uses."""
    return list({str(p): (what, p, kind) for what, p, kind in reversed(files)}.values())[::-1]
