"""storage.atomic: a failed write leaves the target as it was and no temporary file behind."""

from __future__ import annotations

import pytest

from storage.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "card.md"
    assert atomic_write_text(target, "one") == target
    atomic_write_bytes(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["card.md"]


def test_a_failing_writer_leaves_the_target_and_no_temp(tmp_path):
    target = tmp_path / "pairs.parquet"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.parquet"]


def test_the_temp_keeps_the_suffix_and_is_hidden(tmp_path):
    target = tmp_path / "video.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp.name.startswith(".")
        assert not target.exists()
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x" and not tmp.exists()
