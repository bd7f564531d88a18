"""Benchmark: `curate build-pairs --ratings FILE` against a lean polars query and a lean pandas groupby.

Generates synthetic ratings shaped like `curate export ratings` (clips x 5 methods x 3 annotators, int8 scores,
0.05 % broken ratings, 0.2 % flagged candidates, 1 % gold clips) in two shapes: plain string id columns, and the
dictionary-typed ids the export writes. Then, per shape, interleaved round by round so that all three see the same
load, each as its own child process (whole process: start-up, imports, reading, computing, writing; peak RSS of
that process alone via ``wait4``):

1. `curate build-pairs --ratings FILE --out ... --min-margin M --json`: every documented check, the manifest with
   its metadata and the card; its phase timings come from ``--json``.
2. A lean polars lazy query (``lean_polars``): scan, exclusions, mean per candidate, best / worst per clip with the
   same tie rule, margin filter, write Parquet.
3. A lean pandas groupby (``lean_pandas``): the same steps in pandas.

All three must give the same (clip, winner, loser) pairs. Best of ``--repeat`` rounds counts (noise only adds time
on a shared machine); the load average is recorded.

    python bench/build_pairs.py --rows 300000               # a quick look
    python bench/build_pairs.py --rows 10000000 --repeat 3  # JSON in bench/results/build_pairs.json

Needs polars (the ``[dev]`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

METHODS = ["sadtalker", "aniportrait", "echomimic_v2", "fantasytalking", "hallo3"]
METHOD_BIAS = np.array([-0.6, -0.2, 0.0, 0.3, 0.5])  # mean score offset per method
ANNOTATORS = 300  # size of the rater pool
RATERS = 3  # ratings per candidate
CHUNK_CLIPS = 100_000  # clips per Parquet row group (1.5M rows)

RATINGS_SCHEMA = pa.schema(
    [
        ("clip_id", pa.dictionary(pa.int32(), pa.string())),
        ("candidate_id", pa.dictionary(pa.int32(), pa.string())),
        ("method", pa.dictionary(pa.int32(), pa.string())),
        ("annotator_id", pa.dictionary(pa.int32(), pa.string())),
        ("alignment", pa.int8()),
        ("fidelity", pa.int8()),
        ("video", pa.dictionary(pa.int32(), pa.string())),
        ("candidate_status", pa.dictionary(pa.int32(), pa.string())),
        ("is_gold", pa.bool_()),
        ("broken", pa.bool_()),
    ]
)


def _scores(rng: np.random.Generator, quality: np.ndarray) -> np.ndarray:
    noisy = quality + rng.normal(0.0, 0.8, quality.shape)
    return np.clip(np.rint(noisy), 1, 5).astype(np.int8)


def _dict(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values, pa.string()))


def _chunk(rng: np.random.Generator, c0: int, c1: int) -> pa.Table:
    """Ratings of clips c0..c1-1, ordered by clip, candidate, annotator (like the export)."""
    n_clips, m = c1 - c0, len(METHODS)
    clip = np.repeat(np.arange(n_clips), m * RATERS)
    meth = np.tile(np.repeat(np.arange(m), RATERS), n_clips)
    slot = np.tile(np.arange(RATERS), n_clips * m)
    cand = clip * m + meth
    # Each clip is rated by 3 distinct annotators (base + 0/97/194 mod 300), who rate all its candidates.
    base = rng.integers(0, ANNOTATORS, n_clips)
    ann = (base[clip] + 97 * slot) % ANNOTATORS
    quality = 3.0 + METHOD_BIAS[meth] + rng.normal(0.0, 0.9, n_clips * m)[cand]
    clip_names = [f"clip{c:08d}" for c in range(c0, c1)]
    cand_names = [f"{c}:{meth_name}" for c in clip_names for meth_name in METHODS]
    videos = [f"media/candidates/{c}.mp4" for c in cand_names]
    status = np.where(rng.random(n_clips * m) < 0.002, 1, 0)[cand]  # 0.2 % flagged candidates
    gold = (rng.random(n_clips) < 0.01)[clip]
    broken = rng.random(len(clip)) < 0.0005
    return pa.Table.from_arrays(
        [
            _dict(clip, clip_names),
            _dict(cand, cand_names),
            _dict(meth, METHODS),
            _dict(ann, [f"annotator{a:03d}" for a in range(ANNOTATORS)]),
            pa.array(_scores(rng, quality)),
            pa.array(_scores(rng, quality - 0.2)),
            _dict(cand, videos),
            _dict(status, ["ready", "flagged"]),
            pa.array(gold),
            pa.array(broken),
        ],
        schema=RATINGS_SCHEMA,
    )


# The same columns with plain string ids (no Arrow dictionary type in the file's schema): how most tools write them.
PLAIN_SCHEMA = pa.schema([pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                          for f in RATINGS_SCHEMA])
SHAPES = {"plain": PLAIN_SCHEMA, "dict": RATINGS_SCHEMA}


def make_ratings(path: str | Path, rows: int, seed: int = 0, shape: str = "dict") -> Path:
    """Write about ``rows`` synthetic ratings (rounded to whole clips of 5 x 3) to ``path``, chunk by chunk.

    ``shape``: "dict" (dictionary-typed string columns, like the export) or "plain" (plain strings); same values.
    """
    rng = np.random.default_rng(seed)
    schema = SHAPES[shape]
    n_clips = max(1, rows // (len(METHODS) * RATERS))
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for c0 in range(0, n_clips, CHUNK_CLIPS):
            w.write_table(_chunk(rng, c0, min(n_clips, c0 + CHUNK_CLIPS)).cast(schema))
    return Path(path)


# --- the lean versions: what a user would write instead (each run in its own process) ------------------------------

LEAN_COLUMNS = ["clip_id", "candidate_id", "alignment", "fidelity", "candidate_status", "is_gold", "broken"]


def lean_polars(ratings: str, out: str, min_gap: int) -> int:
    """Best-vs-worst pairs with one polars lazy query; returns the number of pairs."""
    import polars as pl

    bad = pl.col("broken") | pl.col("is_gold") | pl.col("candidate_status").is_in(["failed", "flagged"])
    rq = ((0.5 * pl.col("alignment") + 0.5 * pl.col("fidelity")) * 1e6 + 0.5).floor().cast(pl.Int64)
    # Ids as strings: the tie rule is string order (dictionary-typed ids would come back as categoricals).
    ids = [pl.col("clip_id").cast(pl.String), pl.col("candidate_id").cast(pl.String)]
    candidates = (
        pl.scan_parquet(ratings)
        .select(*ids, "alignment", "fidelity", bad.alias("bad"))
        .group_by("clip_id", "candidate_id")
        .agg(pl.col("bad").any(), pl.col("alignment").mean(), pl.col("fidelity").mean())
        .filter(~pl.col("bad"))
        .with_columns(rq.alias("rq"))
    )
    by_reward = [pl.col("rq"), pl.col("candidate_id")]
    pairs = (
        candidates.group_by("clip_id")
        .agg(pl.col("candidate_id").sort_by(by_reward, descending=[True, False]).first().alias("winner"),
             pl.col("candidate_id").sort_by(by_reward).first().alias("loser"),
             pl.col("rq").max().alias("top"), pl.col("rq").min().alias("bottom"))
        .filter(pl.col("top") - pl.col("bottom") >= min_gap)
    )
    pairs.sink_parquet(out)
    return pq.read_metadata(out).num_rows


def lean_pandas(ratings: str, out: str, min_gap: int) -> int:
    """Best-vs-worst pairs with a pandas groupby; returns the number of pairs."""
    import pandas as pd

    df = pd.read_parquet(ratings, columns=LEAN_COLUMNS)
    df["bad"] = df["broken"] | df["is_gold"] | df["candidate_status"].isin(["failed", "flagged"])
    cand = (df.groupby("candidate_id", sort=False, observed=True)
            .agg(clip_id=("clip_id", "first"), a=("alignment", "mean"), f=("fidelity", "mean"), bad=("bad", "any"))
            .reset_index())
    cand = cand[~cand["bad"]]
    # Dictionary-typed ids come back as categoricals, which sort by category order: the tie rule needs strings.
    cand = cand.astype({"clip_id": str, "candidate_id": str})
    cand["rq"] = np.floor((0.5 * cand["a"] + 0.5 * cand["f"]) * 1e6 + 0.5).astype("int64")
    ordered = cand.sort_values(["clip_id", "rq", "candidate_id"], ascending=[True, False, True])
    best = ordered.drop_duplicates("clip_id")
    worst = cand.sort_values(["clip_id", "rq", "candidate_id"]).drop_duplicates("clip_id")
    pairs = best.merge(worst, on="clip_id", suffixes=("_w", "_l"))
    pairs = pairs[pairs["rq_w"] - pairs["rq_l"] >= min_gap]
    pairs[["clip_id", "candidate_id_w", "candidate_id_l", "rq_w", "rq_l"]].rename(
        columns={"candidate_id_w": "winner", "candidate_id_l": "loser"}).to_parquet(out)
    return len(pairs)


LEAN = {"polars": lean_polars, "pandas": lean_pandas}


def _child(cmd: list[str]) -> tuple[float, float, float, str]:
    """Run ``cmd``; its wall seconds, CPU seconds (user + system, every thread), own peak RSS in MB and stdout.

    CPU seconds come from ``wait4`` like the peak: that process alone. On a shared machine they vary far less with
    the load than wall time does.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)  # the outputs are small: the pipes cannot fill up meanwhile
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


def run_build_pairs(ratings: Path, out: Path, min_margin: float) -> dict:
    """`curate build-pairs` as a child process: wall time, peak RSS, pairs and its phase timings."""
    cmd = [sys.executable, "-m", "curation.cli", "build-pairs", "--ratings", str(ratings), "--out", str(out),
           "--min-margin", str(min_margin), "--force", "--json"]
    wall, cpu, rss, stdout = _child(cmd)
    report = json.loads(stdout)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, "pairs": report["pairs"], "timings": report["timings"]}


def run_lean(tool: str, ratings: Path, out: Path, min_margin: float) -> dict:
    """A lean version as a child process of this script: wall time (whole process), peak RSS, pairs."""
    cmd = [sys.executable, __file__, "--lean", tool, "--ratings", str(ratings), "--out", str(out),
           "--min-margin", str(min_margin)]
    wall, cpu, rss, stdout = _child(cmd)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, **json.loads(stdout)}


def pair_keys(path: Path, columns: list[str]) -> set[tuple[str, str, str]]:
    t = pq.read_table(path, columns=columns)
    return set(zip(*(t.column(c).cast(pa.string()).to_pylist() for c in columns)))


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def measure_shape(shape: str, rows: int, repeat: int, min_margin: float, workdir: Path) -> dict:
    """Generate one shape and time the three on it; outputs are kept under ``workdir`` for :func:`check_pairs`."""
    ratings = workdir / f"ratings-{shape}.parquet"
    # Every child is started from this small process: Linux carries a parent's peak RSS at fork into the child's
    # ru_maxrss, so nothing big is read here until every timing is done (see check_pairs).
    gen_s, _, _, _ = _child([sys.executable, __file__, "--generate", shape, "--rows", str(rows), "--out", str(ratings)])
    runs: dict[str, list[dict]] = {k: [] for k in ("build-pairs", *LEAN)}
    loads = [_load()]
    for _ in range(repeat):  # interleaved: each round runs all three back to back
        runs["build-pairs"].append(run_build_pairs(ratings, workdir / f"{shape}-build-pairs.parquet", min_margin))
        for tool in LEAN:
            runs[tool].append(run_lean(tool, ratings, workdir / f"{shape}-{tool}.parquet", min_margin))
        loads.append(_load())
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
    return {
        "shape": shape,
        "rows": pq.read_metadata(ratings).num_rows,
        "ratings_file_mb": round(ratings.stat().st_size / 2**20, 1),
        "generate_s": round(gen_s, 2),
        "best": best,
        "all_wall_s": {k: [round(r["wall_s"], 3) for r in v] for k, v in runs.items()},
        "all_cpu_s": {k: [round(r["cpu_s"], 3) for r in v] for k, v in runs.items()},
        "load_average_1min": loads,
        "build_pairs_vs_polars": best["polars"]["wall_s"] / best["build-pairs"]["wall_s"],
        "build_pairs_vs_pandas": best["pandas"]["wall_s"] / best["build-pairs"]["wall_s"],
        "targets": {
            "at_least_as_fast_as_polars": best["build-pairs"]["wall_s"] <= best["polars"]["wall_s"],
            "peak_rss_under_2GB": best["build-pairs"]["peak_rss_mb"] < 2048,
        },
    }


def check_pairs(result: dict, workdir: Path) -> None:
    """Whether the three wrote the same (clip, winner, loser) pairs (read after all timings)."""
    shape = result["shape"]
    keys = [pair_keys(workdir / f"{shape}-build-pairs.parquet",
                      ["clip_id", "winner_candidate_id", "loser_candidate_id"])]
    keys += [pair_keys(workdir / f"{shape}-{tool}.parquet", ["clip_id", "winner", "loser"]) for tool in LEAN]
    result["identical_pairs"] = all(k == keys[0] for k in keys)
    # The manifest contract's row order; at this size DuckDB's parallel work would show if it were not kept.
    cols = ["clip_id", "winner_candidate_id", "loser_candidate_id"]
    t = pq.read_table(workdir / f"{shape}-build-pairs.parquet", columns=cols)
    result["manifest_sorted"] = t.equals(t.sort_by([(c, "ascending") for c in cols]))


def print_table(results: list[dict], repeat: int) -> None:
    print(f"\nwhole process, best of {repeat} interleaved rounds, {os.cpu_count()} CPUs: "
          "wall seconds / CPU seconds (peak RSS MB)")
    shapes = [f"{r['shape']} ids, {r['rows']:,} ratings" for r in results]
    print(f"{'':34s}" + "".join(f"{s:>34s}" for s in shapes))
    for tool, label in (("build-pairs", "curate build-pairs --json"), ("polars", "lean polars lazy query"),
                        ("pandas", "lean pandas groupby")):
        cells = [f"{r['best'][tool]['wall_s']:.2f} / {r['best'][tool]['cpu_s']:.2f} s "
                 f"({r['best'][tool]['peak_rss_mb']:.0f} MB)" for r in results]
        print(f"{label:34s}" + "".join(f"{c:>34s}" for c in cells))
    for phase in ("aggregate", "checks", "pairs", "card"):
        cells = [f"{r['best']['build-pairs']['timings'].get(phase, 0):.2f} s" for r in results]
        print(f"{'  build-pairs: ' + phase:34s}" + "".join(f"{c:>34s}" for c in cells))
    for r in results:
        print(f"{r['shape']}: pairs {r['best']['build-pairs']['pairs']:,}, identical in all three: "
              f"{r['identical_pairs']}, manifest sorted: {r['manifest_sorted']}; build-pairs {r['build_pairs_vs_polars']:.2f}x the speed of polars, "
              f"{r['build_pairs_vs_pandas']:.2f}x of pandas; load average {r['load_average_1min']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rating rows to generate (up to 30M)")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds; the best of each counts")
    ap.add_argument("--min-margin", type=float, default=1.0)
    ap.add_argument("--shapes", default="plain,dict", help="comma-separated: plain, dict")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "build_pairs.json"))
    ap.add_argument("--lean", choices=sorted(LEAN), help=argparse.SUPPRESS)  # child mode: run one lean version
    ap.add_argument("--generate", choices=sorted(SHAPES), help=argparse.SUPPRESS)  # child mode: write ratings
    ap.add_argument("--ratings", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    min_gap = max(1, int(np.floor(args.min_margin * 1e6 + 0.5)))  # as BuildPairsConfig.min_gap
    if args.generate:
        make_ratings(args.out, args.rows, shape=args.generate)
        return
    if args.lean:
        t0 = time.perf_counter()
        pairs = LEAN[args.lean](args.ratings, args.out, min_gap)
        print(json.dumps({"pairs": pairs, "compute_s": time.perf_counter() - t0}))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pairs-") as d:
        for shape in args.shapes.split(","):
            results.append(measure_shape(shape, args.rows, args.repeat, args.min_margin, Path(d)))
        for r in results:
            check_pairs(r, Path(d))
    print_table(results, args.repeat)
    report = {"command": "python bench/build_pairs.py " + " ".join(sys.argv[1:]), "cpus": os.cpu_count(),
              "bench_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "repeat": args.repeat, "min_margin": args.min_margin, "shapes": results}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"\nJSON: {out}")
    if not all(r["identical_pairs"] for r in results):
        raise SystemExit("build-pairs, polars and pandas disagree")


if __name__ == "__main__":
    main()
