"""`curate convert hallo4` on a .ckpt that is not a state dict: one line naming the file and what it holds."""

from __future__ import annotations

import pytest
import torch

CASES = {
    "list": ([torch.zeros(2)], "holds a list, not a state dict (names to tensors)."),
    "nested-list": ({"state_dict": [1, 2]}, "holds a list, not a state dict (names to tensors)."),
    "string": ({"state_dict": {"audio_proj.proj1.weight": "text"}},
               "key 'audio_proj.proj1.weight' holds a str, not a tensor: not a state dict."),
    "int-keys": ({1: torch.zeros(2)}, "key 1 (int) is not a tensor name: not a state dict."),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_ckpt_is_one_line(tmp_path, cli, name):
    payload, said = CASES[name]
    ckpt = tmp_path / f"{name}.ckpt"
    torch.save(payload, ckpt)
    r = cli("convert", "hallo4", ckpt, tmp_path / "out")
    assert r.exit_code == 1, r.output
    assert r.output.strip().splitlines() == [f"Error: {ckpt}: {said}"]
    assert not (tmp_path / "out").exists()
