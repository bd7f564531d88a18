"""Benchmark: `curate build-pairs --ratings FILE` against a plain pandas implementation and the DuckDB floor.

Generates synthetic ratings shaped like `curate export ratings` (clips x 5 methods x 3 annotators), then in one run:

1. `curate build-pairs --ratings FILE --out ...` as a subprocess: start-up, reading, validation, the pair query,
   writing the manifest and its card; peak RSS of the child process.
2. The same pairs computed with a plain pandas groupby in this process (what a user would write instead), checked to
   give identical (clip, winner, loser) pairs.
3. The floor: one DuckDB ``GROUP BY candidate_id`` mean over the same Parquet file, the work no implementation skips.
4. For context: a plain scan of every column build-pairs reads, and a lower-bound sketch of a best-vs-worst query
   (see ``_SKETCH``), interleaved with the floor.

    python bench/build_pairs.py                 # 10M rows (about 2.4 GB peak in this process for pandas)
    python bench/build_pairs.py --rows 300000   # a quick look

Prints a table and writes JSON to bench/results/build_pairs.json.
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


def make_ratings(path: str | Path, rows: int, seed: int = 0) -> Path:
    """Write about ``rows`` synthetic ratings (rounded to whole clips of 5 x 3) to ``path``, chunk by chunk."""
    rng = np.random.default_rng(seed)
    n_clips = max(1, rows // (len(METHODS) * RATERS))
    with pq.ParquetWriter(path, RATINGS_SCHEMA, compression="zstd") as w:
        for c0 in range(0, n_clips, CHUNK_CLIPS):
            w.write_table(_chunk(rng, c0, min(n_clips, c0 + CHUNK_CLIPS)))
    return Path(path)


# --- the three measurements ----------------------------------------------------------------------------------------

def run_build_pairs(ratings: Path, out: Path, min_margin: float) -> dict:
    """`curate build-pairs` as a child process: wall time, its own peak RSS, and its phase timings."""
    cmd = [sys.executable, "-m", "curation.cli", "build-pairs", "--ratings", str(ratings), "--out", str(out),
           "--min-margin", str(min_margin), "--force", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not the sum over all children
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"build-pairs failed ({proc.returncode}):\n{stderr}")
    report = json.loads(stdout)
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "pairs": report["pairs"],
            "timings": report["timings"], "command": " ".join(cmd)}


def pandas_pairs(ratings: Path, out: Path, min_margin: float) -> dict:
    """The same best-vs-worst pairs with a plain pandas groupby, as a user would write it (in this process)."""
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_parquet(ratings, columns=["clip_id", "candidate_id", "method", "alignment", "fidelity", "video",
                                           "candidate_status", "is_gold", "broken"])
    bad = df["broken"] | df["candidate_status"].isin(["failed", "flagged"]) | df["is_gold"]
    df = df[~df["candidate_id"].isin(df.loc[bad, "candidate_id"].unique())]
    cand = (
        df.groupby(["clip_id", "candidate_id"], observed=True, sort=False)
        .agg(method=("method", "first"), video=("video", "first"), alignment=("alignment", "mean"),
             fidelity=("fidelity", "mean"), raters=("alignment", "size"))
        .reset_index()
    )
    # Dictionary columns come back as categoricals, which sort by category order: ties need string order.
    cand["candidate_id"] = cand["candidate_id"].astype(str)
    cand["rq"] = np.floor((0.5 * cand["alignment"] + 0.5 * cand["fidelity"]) * 1e6 + 0.5).astype("int64")
    # Ties: the smallest candidate_id among the best (worst), as build-pairs documents.
    best = cand.sort_values(["clip_id", "rq", "candidate_id"], ascending=[True, False, True]).drop_duplicates("clip_id")
    worst = cand.sort_values(["clip_id", "rq", "candidate_id"]).drop_duplicates("clip_id")
    pairs = best.merge(worst, on="clip_id", suffixes=("_w", "_l"))
    pairs = pairs[pairs["rq_w"] - pairs["rq_l"] >= max(1, int(np.floor(min_margin * 1e6 + 0.5)))]
    pairs.to_parquet(out)
    wall = time.perf_counter() - t0
    keys = set(zip(pairs["clip_id"].astype(str), pairs["candidate_id_w"].astype(str),
                   pairs["candidate_id_l"].astype(str)))
    return {"wall_s": wall, "pairs": len(pairs), "keys": keys}


def _timed(sql: str, ratings: Path) -> float:
    """Seconds for one DuckDB statement over the file (fresh connection, every core, result fully produced)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    t0 = time.perf_counter()
    con.execute(sql, [str(ratings)]).fetchall()
    wall = time.perf_counter() - t0
    con.close()
    return wall


_FLOOR = (
    "CREATE TEMP TABLE floor AS SELECT candidate_id, avg(alignment) AS a, avg(fidelity) AS f "
    "FROM read_parquet(?) GROUP BY candidate_id"
)


def floor_query(ratings: Path) -> float:
    """One DuckDB GROUP BY candidate_id mean over the file, materialised: the work no implementation can skip."""
    return _timed(_FLOOR, ratings)


# The least any best-vs-worst query over this file must do, written as lean as DuckDB allows: per (clip,
# candidate) the score sums and the rating count packed into one integer sum (one aggregate state instead of three),
# one exclusion flag, the composite reward, then per clip arg_max / arg_min. It leaves out what a correct build-pairs
# also needs: the tie rule (arg_max picks any of the tied), the margin, rater counts and axis means of the two
# candidates, the input checks, media paths, pair ids, sorting. It is not an implementation, only a lower bound to
# hold the floor target against: if this alone costs more than 1.5x the floor, no correct query costs less.
_SKETCH = """
SELECT clip_id, arg_max(candidate_id, r) AS best, arg_min(candidate_id, r) AS worst
FROM (
    SELECT clip_id, candidate_id, ((p & 2097151) + ((p >> 21) & 2097151)) / (p >> 42) AS r
    FROM (
        SELECT clip_id, candidate_id,
               sum(alignment::BIGINT + (fidelity::BIGINT << 21) + (1::BIGINT << 42))::BIGINT AS p,
               bool_or(broken OR is_gold OR candidate_status IN ('failed', 'flagged')) AS excluded
        FROM read_parquet(?)
        GROUP BY clip_id, candidate_id
    )
    WHERE NOT excluded
)
GROUP BY clip_id
"""


def sketch_query(ratings: Path) -> float:
    """The lower-bound sketch above, materialised like the floor."""
    return _timed("CREATE TEMP TABLE sketch AS " + _SKETCH, ratings)


# Every column `curate build-pairs` reads from a ratings export; sum(length(...)) forces each value to be decoded
# (min/max would be answered from the Parquet statistics without reading a page).
_WIDE_SCAN = (
    "SELECT sum(length(clip_id) + length(candidate_id) + length(method) + length(annotator_id) + length(video)"
    " + length(candidate_status) + alignment + fidelity + is_gold::INTEGER + broken::INTEGER) FROM read_parquet(?)"
)


def wide_scan(ratings: Path) -> float:
    """Only reading and decoding the columns build-pairs needs, no grouping: context for the floor, not a target."""
    return _timed(_WIDE_SCAN, ratings)


def manifest_keys(path: Path) -> set[tuple[str, str, str]]:
    t = pq.read_table(path, columns=["clip_id", "winner_candidate_id", "loser_candidate_id"])
    return set(zip(*(t.column(c).to_pylist() for c in t.column_names)))


# --- the run ---------------------------------------------------------------------------------------------------------

def measure(rows: int, repeat: int, min_margin: float, workdir: Path) -> dict:
    ratings = workdir / "ratings.parquet"
    t0 = time.perf_counter()
    make_ratings(ratings, rows)
    gen_s = time.perf_counter() - t0
    n_rows = pq.read_metadata(ratings).num_rows
    # Each measurement repeated; the best run counts (the machine is shared, so noise only ever adds time).
    curate = min((run_build_pairs(ratings, workdir / "pairs.parquet", min_margin) for _ in range(repeat)),
                 key=lambda r: r["wall_s"])
    # Floor and sketch interleaved, so that both see the same load.
    floor_runs, sketch_runs = [], []
    for _ in range(repeat):
        floor_runs.append(floor_query(ratings))
        sketch_runs.append(sketch_query(ratings))
    floor_s, sketch_s = min(floor_runs), min(sketch_runs)
    scan_s = min(wide_scan(ratings) for _ in range(repeat))
    pandas = min((pandas_pairs(ratings, workdir / "pandas.parquet", min_margin) for _ in range(repeat)),
                 key=lambda r: r["wall_s"])
    identical = manifest_keys(workdir / "pairs.parquet") == pandas.pop("keys")
    t = curate["timings"]
    query_s = t["aggregate"] + t["checks"] + t["pairs"]
    return {
        "rows": n_rows,
        "ratings_file_mb": round(ratings.stat().st_size / 2**20, 1),
        "generate_s": round(gen_s, 2),
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "min_margin": min_margin,
        "build_pairs": curate,
        "pandas": pandas,
        "floor_s": floor_s,
        "wide_scan_s": scan_s,
        "sketch_s": sketch_s,
        "sketch_vs_floor": sketch_s / floor_s,
        "query_s": query_s,
        "identical_pairs": identical,
        "speedup_vs_pandas": pandas["wall_s"] / curate["wall_s"],
        "query_vs_floor": query_s / floor_s,
        "aggregate_vs_floor": t["aggregate"] / floor_s,
        "targets": {
            "whole_process_2.5x_faster_than_pandas": pandas["wall_s"] / curate["wall_s"] >= 2.5,
            "pair_query_within_1.5x_of_floor": query_s / floor_s <= 1.5,
            "peak_rss_under_2GB": curate["peak_rss_mb"] < 2048,
        },
        "pandas_peak_rss_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def print_table(r: dict) -> None:
    t = r["build_pairs"]["timings"]
    print(f"\n{r['rows']:,} ratings ({r['ratings_file_mb']} MiB Parquet), {r['cpus']} CPUs, best of {r['repeat']}")
    print(f"{'what':44s} {'seconds':>8s} {'vs floor':>9s}")
    rows = [
        ("curate build-pairs, whole process", r["build_pairs"]["wall_s"]),
        ("  aggregate (one pass over the ratings)", t["aggregate"]),
        ("  input checks", t["checks"]),
        ("  pairs + manifest table", t["pairs"]),
        ("  card statistics", t["card"]),
        ("  pair query (aggregate + checks + pairs)", r["query_s"]),
        ("pandas groupby, in process", r["pandas"]["wall_s"]),
        ("floor: DuckDB GROUP BY candidate_id mean", r["floor_s"]),
        ("(reading every column build-pairs needs)", r["wide_scan_s"]),
        ("(lower bound: best-vs-worst sketch)", r["sketch_s"]),
    ]
    for name, s in rows:
        print(f"{name:44s} {s:8.2f} {s / r['floor_s']:8.2f}x")
    print(f"\npairs: {r['build_pairs']['pairs']:,} (pandas {r['pandas']['pairs']:,}), identical: {r['identical_pairs']}")
    print(f"build-pairs vs pandas: {r['speedup_vs_pandas']:.2f}x faster (target >= 2.5x)")
    print(f"pair query vs floor: {r['query_vs_floor']:.2f}x (target <= 1.5x; "
          f"the lower-bound sketch alone: {r['sketch_vs_floor']:.2f}x)")
    print(f"build-pairs peak RSS: {r['build_pairs']['peak_rss_mb']:.0f} MB (target < 2048 MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rating rows to generate (up to 30M)")
    ap.add_argument("--repeat", type=int, default=1, help="run each measurement this often; report the best")
    ap.add_argument("--min-margin", type=float, default=1.0)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "build_pairs.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pairs-") as d:
        result = measure(args.rows, args.repeat, args.min_margin, Path(d))
    result["command"] = "python bench/build_pairs.py " + " ".join(sys.argv[1:])
    print_table(result)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"\nJSON: {out}")
    if not result["identical_pairs"]:
        raise SystemExit("pandas and build-pairs disagree")


if __name__ == "__main__":
    main()
