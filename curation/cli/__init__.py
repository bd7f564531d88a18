"""``curate``: the command line. Subcommands load lazily; heavy libraries only in the commands that need them."""

from __future__ import annotations

import click

from curation.cli._util import LazyGroup

# name -> "module:attribute". Each module only parses flags and calls one library function.
COMMANDS = {
    "init": "curation.cli.workspace:init_cmd",
    "ingest": "curation.cli.workspace:ingest_cmd",
    "import": "curation.cli.workspace:import_group",
    "export": "curation.cli.workspace:export_group",
    "status": "curation.cli.workspace:status_cmd",
    "demo": "curation.cli.demo:demo_cmd",
    "build-pairs": "curation.cli.pairs:build_pairs_cmd",
    "generate": "curation.cli.generate:generate_cmd",
    "generators": "curation.cli.generate:generators_group",
    "annotate": "curation.cli.annotate:annotate_cmd",
    "annotators": "curation.cli.annotate:annotators_group",
    "gold": "curation.cli.gold:gold_group",
    "stats": "curation.cli.stats:stats_cmd",
    "labelstudio": "curation.cli.labelstudio:labelstudio_group",
    "train-dpo": "curation.cli.train:train_dpo_cmd",
    "round": "curation.cli.round:round_group",
    "train-sft": "curation.cli.train:train_sft_cmd",
    "convert": "curation.cli.convert:convert_group",
    "eval": "curation.cli.eval:eval_cmd",
    "sample": "curation.cli.sample:sample_cmd",
}

SHORT_HELP = {
    "init": "Create a workspace (curate.toml + SQLite store).",
    "ingest": "Add input clips from a CSV/JSONL/Parquet manifest.",
    "import": "Import candidate videos or ratings made elsewhere.",
    "export": "Export ratings (Parquet or CSV) or pairs (HF / Pick-a-Pic).",
    "status": "Counts and progress of the workspace.",
    "demo": "Build a sample workspace and serve the annotation app.",
    "build-pairs": "Turn ratings into a versioned DPO pair manifest.",
    "generate": "Generate candidate videos for every clip.",
    "generators": "List and check the generator adapters.",
    "annotate": "Serve the annotation app on localhost.",
    "annotators": "Add, list, reset, disable and enable annotators.",
    "gold": "Mark gold clips with known answers.",
    "stats": "Agreement, throughput and score distributions.",
    "labelstudio": "Push clips to / pull ratings from Label Studio.",
    "train-dpo": "Diffusion-DPO fine-tuning on a pair manifest.",
    "round": "Start the next round of a campaign; list rounds.",
    "train-sft": "Phased SFT of the audio / skeleton motion module.",
    "convert": "Map released model weights onto the trainer's modules.",
    "eval": "Objective metrics per method (Sync-C/D, FID, FVD, PSNR, SSIM, LPIPS, HKC/HKV).",
    "sample": "Videos from a trained run, one per clip.",
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
      curate round start                    # next round: new clips, the trained model as a method

    Every command takes -w/--workspace DIR (else $CURATE_WORKSPACE, else the
    current folder) and --db URL (else $CURATE_DB_URL, else curate.toml).
    """
    from storage.logs import configure, level_for

    configure(level_for(verbose))  # also exported to the processes the command starts


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="curate")


