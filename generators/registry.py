"""Method name -> adapter factory, as ``"module:function"`` strings so heavy code loads only when selected.

A factory is ``make(name, settings, root) -> VideoGenerator`` where ``settings`` is the
method's ``[generators.<name>]`` table of curate.toml and ``root`` the workspace folder.

A table may name the adapter it uses, so one adapter can serve several methods::

    [generators.hallo3_seed7]
    adapter = "hallo3"              # a key of GENERATORS
    seed = 7
    [generators.my_model]
    adapter = "mypkg.gen:make"      # or any importable factory
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generators.base import VideoGenerator
from storage.errors import CurateError

__all__ = ["BUILTIN", "GENERATORS", "TRAINED", "UPSTREAM", "adapter_target", "batch_size", "build", "known_methods"]

BUILTIN = {
    "still": "generators.builtin.still:make",
    "lipsync": "generators.builtin.lipsync:make",
    "lipsync_offset": "generators.builtin.lipsync:make_offset",
    "lipsync_blur": "generators.builtin.lipsync:make_blur",
    "import": "generators.builtin.external_videos:make",
}

UPSTREAM = {
    "sadtalker": "generators.sadtalker.adapter:make",
    "aniportrait": "generators.aniportrait.adapter:make",
    "echomimic_v2": "generators.echomimic_v2.adapter:make",
    "fantasytalking": "generators.fantasytalking.adapter:make",
    "hallo3": "generators.hallo3.adapter:make",
    "hallo4": "generators.hallo4.adapter:make",
}

# Our own trained runs, sampled in a subprocess like an upstream (``python -m trainer.generation``).
TRAINED = {"policy": "generators.policy.adapter:make"}

GENERATORS: dict[str, str] = {**BUILTIN, **UPSTREAM, **TRAINED}


def known_methods(configured: dict[str, dict[str, Any]]) -> list[str]:
    """Registry names plus every method configured in curate.toml."""
    return sorted(set(GENERATORS) | set(configured))


def adapter_target(method: str, settings: dict[str, Any]) -> str:
    """The ``module:function`` that builds ``method``."""
    ref = settings.get("adapter", method)
    if ref in GENERATORS:
        return GENERATORS[ref]
    if isinstance(ref, str) and ":" in ref:
        return ref
    raise CurateError(
        f"unknown generator {method!r}: not one of {', '.join(sorted(GENERATORS))}, and "
        f"[generators.{method}] in curate.toml names no `adapter`."
    )


# Upstreams (and trained runs) load a multi-GB model per call, so a worker hands them several clips at once.
UPSTREAM_BATCH_SIZE = 8


def batch_size(method: str, settings: dict[str, Any]) -> int:
    """Clips per adapter call: ``batch_size`` from curate.toml, else 8 for upstreams and 1 for the rest."""
    default = UPSTREAM_BATCH_SIZE if settings.get("adapter", method) in {**UPSTREAM, **TRAINED} else 1
    n = settings.get("batch_size", default)
    if not isinstance(n, int) or n < 1:
        raise CurateError(f"curate.toml [generators.{method}]: batch_size must be an integer >= 1. Got {n!r}.")
    return n


def build(method: str, settings: dict[str, Any], root: Path) -> VideoGenerator:
    """Import and build the adapter for ``method``.

    Raises:
        CurateError: unknown method, bad settings, or an adapter whose module cannot be imported
            (naming what to install).
    """
    target = adapter_target(method, settings)
    mod_name, func = target.split(":")
    try:
        factory: Callable[..., VideoGenerator] = getattr(importlib.import_module(mod_name), func)
    except ImportError as e:
        raise CurateError(f"generator {method!r}: cannot import {mod_name} ({e}); install what it names.") from None
    except AttributeError:
        raise CurateError(f"generator {method!r}: {mod_name} has no {func!r}.") from None
    return factory(method, dict(settings), root)
