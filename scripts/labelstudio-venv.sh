#!/usr/bin/env bash
# Build (or reuse) the virtual environment that runs the Label Studio *server* for the
# integration tests and for local use. It is kept out of the project's venv on purpose:
# label-studio pins Django, pytz<2023, pyarrow<25, numpy<2.3 and its own SDK (2.1.2,
# which needs Pillow>=12.3 and so clashes with moviepy 2.x). See docs/labelstudio.md.
#
# Usage:  bash scripts/labelstudio-venv.sh [DIR]      (default: .cache/labelstudio-venv)
#         LS_VERSION=1.23.2 PYTHON=python3.11 bash scripts/labelstudio-venv.sh
# Prints the venv's path on the last line of stdout; progress goes to stderr.
# Then: CURATE_LS_VENV=<that path> CURATE_REQUIRE_LABELSTUDIO=1 python -m pytest tests/annotate_app/labelstudio/
set -euo pipefail

LS_VERSION="${LS_VERSION:-1.23.2}"
PYTHON="${PYTHON:-python3}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.cache/labelstudio-venv}"
mkdir -p "$(dirname "$venv")"
venv="$(cd "$(dirname "$venv")" && pwd)/$(basename "$venv")"

installed_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("label-studio"))' 2>/dev/null || true
}

if [[ -x "$venv/bin/label-studio" && "$(installed_version)" == "$LS_VERSION" ]]; then
    echo "label-studio $LS_VERSION already in $venv" >&2
    echo "$venv"
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv" >&2
    "$PYTHON" -m venv "$venv"
fi
# A current pip first: the stock one resolves this dependency set very slowly.
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet "label-studio==$LS_VERSION" >&2
echo "label-studio $(installed_version) installed in $venv in $(( $(date +%s) - start )) s" >&2
echo "$venv"
