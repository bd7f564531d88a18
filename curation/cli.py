"""``curate``: the command line. Subcommands load lazily; heavy libraries only in the commands that need them."""

from __future__ import annotations

import logging

import click

from curation._cli_util import LazyGroup

# name -> "module:attribute". Each module only parses flags and calls one library function.
COMMANDS = {
    "init": "curation.commands:init_cmd",
    "ingest": "curation.commands:ingest_cmd",
    "import": "curation.commands:import_group",
    "export": "curation.commands:export_group",
    "status": "curation.commands:status_cmd",
    "demo": "curation.demo:demo_cmd",
    "build-pairs": "curation.pairs_cli:build_pairs_cmd",
    "generate": "generators.cli:generate_cmd",
    "generators": "generators.cli:generators_group",
    "annotate": "annotate_app.cli:annotate_cmd",
    "annotators": "annotate_app.cli:annotators_group",
    "gold": "annotate_app.gold_cli:gold_group",
    "stats": "annotate_app.stats_cli:stats_cmd",
    "labelstudio": "annotate_app.labelstudio_cli:labelstudio_group",
    "train-dpo": "trainer.cli:train_dpo_cmd",
}

SHORT_HELP = {
    "init": "Create a workspace (curate.toml + SQLite store).",
    "ingest": "Add input clips from a CSV/JSONL/Parquet manifest.",
    "import": "Import candidate videos or ratings made elsewhere.",
    "export": "Export ratings (Parquet) or pairs (HF / Pick-a-Pic).",
    "status": "Counts and progress of the workspace.",
    "demo": "Build a sample workspace and serve the annotation app.",
    "build-pairs": "Turn ratings into a versioned DPO pair manifest.",
    "generate": "Generate candidate videos for every clip.",
    "generators": "List and check the generator adapters.",
    "annotate": "Serve the annotation app on localhost.",
    "annotators": "Add and list annotators.",
    "gold": "Mark gold clips with known answers.",
    "stats": "Agreement, throughput and score distributions.",
    "labelstudio": "Push clips to / pull ratings from Label Studio.",
    "train-dpo": "Diffusion-DPO fine-tuning on a pair manifest.",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, short=SHORT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="portrait-curate")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """portrait-curate: candidate videos -> human preferences -> Diffusion-DPO.

    \b
    A campaign, end to end:
      curate init ws && cd ws
      curate ingest clips.csv               # reference image + driving audio per clip
      curate generate --methods still,lipsync   # or: curate import candidates videos.csv
      curate annotators add alice && curate annotate
      curate build-pairs --min-margin 1
      curate train-dpo --manifest manifests/pairs-v0001.parquet ...

    Every command takes -w/--workspace DIR (else $CURATE_WORKSPACE, else the
    current folder) and --db URL (else $CURATE_DB_URL, else curate.toml).
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="curate")


if __name__ == "__main__":  # pragma: no cover
    main()
