#!/usr/bin/env bash
# Create/update the project venv and install portrait-curate with the given extras (default: app).
#   bash scripts/setup.sh [EXTRAS]        e.g. bash scripts/setup.sh all
# Uses CURATE_VENV (default .venv). torch==2.13.0 goes first: on these machines it is a CPU wheel on
# local disk, while any other or unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CURATE_VENV:-.venv}
EXTRAS=${1:-app}
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -U pip   # the stock pip 23 takes minutes to resolve this set
if [[ ",$EXTRAS," == *",all,"* || ",$EXTRAS," == *",train,"* ]]; then
  "$VENV/bin/python" -m pip install -q torch==2.13.0
fi
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[$EXTRAS]"
echo "$VENV"
