"""A released checkpoint read one tensor at a time, in its stored dtype (``curate convert hallo4``).

Hallo4's checkpoint is a bf16 VACE-Wan of about 1.3 B parameters: holding it whole (and upcasting it to float32)
costs several GiB before anything is written. :class:`CheckpointReader` lists the keys and their shapes without
reading the tensors and hands out one tensor at a time: a ``.safetensors`` file through ``safe_open`` (each
``get_tensor`` maps only that tensor), a torch ``.ckpt`` / ``.pt`` through ``torch.load(mmap=True)`` (the storages
stay in the file's pages until a tensor is touched). Wrapper prefixes (``model.``, ``module.``, ``transformer.``)
and Hallo4's older ``audio_attn`` / ``audio_norm`` names are folded to the names the mapping uses.
"""

from __future__ import annotations

from pathlib import Path

import torch

from storage.errors import CurateError

PREFIXES = ("model.", "module.", "transformer.")


def clean_key(key: str) -> str:
    """Wrapper prefixes off; the older audio_attn / audio_norm names onto the current ones."""
    for p in PREFIXES:
        key = key.removeprefix(p)
    return key.replace("audio_attn", "audio_cross_attn").replace("audio_norm", "audio_cross_norm")


def checked_state_dict(state, path: Path) -> dict[str, torch.Tensor]:
    """``state`` if it is a state dict (names to tensors), else a CurateError saying what the file holds."""
    if not isinstance(state, dict):
        raise CurateError(f"{path}: holds a {type(state).__name__}, not a state dict (names to tensors).")
    for key, value in state.items():
        if not isinstance(key, str):
            raise CurateError(f"{path}: key {key!r} ({type(key).__name__}) is not a tensor name: not a state dict.")
        if not isinstance(value, torch.Tensor):
            raise CurateError(f"{path}: key {key!r} holds a {type(value).__name__}, not a tensor: not a state dict.")
    return state


class CheckpointReader:
    """Keys, shapes and one tensor at a time from a checkpoint file; a mapping-like view keyed by clean names."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._safe = None
        self._state: dict | None = None
        try:
            if self.path.suffix == ".safetensors":
                from safetensors import safe_open

                self._safe = safe_open(str(self.path), framework="pt", device="cpu")
                raw_keys = list(self._safe.keys())
            else:
                raw = _torch_load(self.path)
                state = raw.get("state_dict", raw) if isinstance(raw, dict) else raw
                self._state = checked_state_dict(state, self.path)
                raw_keys = list(self._state)
        except CurateError:
            raise
        except Exception as e:  # noqa: BLE001 - safetensors and torch raise many kinds; all mean "not a checkpoint"
            raise CurateError(f"{self.path}: not a readable checkpoint ({type(e).__name__}: {e}).") from None
        self._raw = {clean_key(k): k for k in raw_keys}

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def keys(self):
        return self._raw.keys()

    def shape(self, key: str) -> tuple[int, ...]:
        raw = self._raw[key]
        if self._safe is not None:
            return tuple(self._safe.get_slice(raw).get_shape())
        return tuple(self._state[raw].shape)

    def __getitem__(self, key: str) -> torch.Tensor:
        raw = self._raw[key]
        return self._safe.get_tensor(raw) if self._safe is not None else self._state[raw]

    def get(self, key: str, default=None):
        return self[key] if key in self._raw else default

    def items(self):
        for key in self._raw:
            yield key, self[key]


def _torch_load(path: Path):
    """``torch.load`` memory-mapped when the file allows it (the zip format of torch >= 1.6), else plainly."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as e:
        if "mmap" not in str(e):
            raise
        return torch.load(str(path), map_location="cpu", weights_only=True)
