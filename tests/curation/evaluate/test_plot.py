"""`curate eval`'s plot: the numbers each panel draws, and a real PNG written atomically."""

from __future__ import annotations

from curation.evaluate.plot import panels, write_plot

SUMMARY = {
    "methods": {
        "hallo3": {"clips": 3, "psnr": {"n": 3, "mean": 30.0, "ci_low": 28.0, "ci_high": 32.0},
                   "fid": {"value": 12.5}},
        "still": {"clips": 3, "psnr": {"n": 1, "mean": 20.0, "ci_low": None, "ci_high": None},
                  "sync_c": {"n": 0, "mean": None, "ci_low": None, "ci_high": None}},
    },
    "skipped": [],
}


def test_panels_by_hand():
    got = panels(SUMMARY)
    assert got == [
        ("PSNR \u2191", ["hallo3", "still"], [30.0, 20.0], [2.0, None]),  # half-width (32 - 28) / 2; one clip: none
        ("FID \u2193", ["hallo3"], [12.5], [None]),  # per method: one value, no interval
    ]  # sync_c has no value for any method: no panel


def test_plot_is_a_png_and_nothing_is_left_behind(tmp_path):
    path = write_plot(SUMMARY, tmp_path / "plot.png")
    assert path == tmp_path / "plot.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_no_values_no_plot(tmp_path):
    empty = {"methods": {"m": {"clips": 0}}, "skipped": []}
    assert write_plot(empty, tmp_path / "plot.png") is None
    assert not (tmp_path / "plot.png").exists()
