#!/usr/bin/env bash
# Create/update the project venv and install portrait-curate with the given extras (default: app).
#   bash scripts/setup.sh [EXTRAS]        e.g. bash scripts/setup.sh all
# Uses CURATE_VENV (default .venv) and prints its path last. pip's output goes to .cache/setup.log and
# is shown only when something fails. torch==2.13.0 goes first: on these machines it is a CPU wheel on
# local disk, while any other or unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CURATE_VENV:-.venv}
EXTRAS=${1:-app}
mkdir -p .cache
LOG=.cache/setup.log
: > "$LOG"
run() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "setup failed: $*" >&2
    grep -v "WARNING: Location" "$LOG" | tail -40 >&2
    exit 1
  fi
}
echo "installing portrait-curate[$EXTRAS] into $VENV (log: $LOG)" >&2
[ -x "$VENV/bin/python" ] || run "${PYTHON:-python3}" -m venv "$VENV"
run "$VENV/bin/python" -m pip install -U pip   # the stock pip 23 takes minutes to resolve this set
if [[ ",$EXTRAS," == *",all,"* || ",$EXTRAS," == *",train,"* ]]; then
  run "$VENV/bin/python" -m pip install torch==2.13.0
fi
run "$VENV/bin/python" -m pip install -c constraints.txt -e ".[$EXTRAS]"
echo "$VENV"
