#!/usr/bin/env bash
# The README's main job: set up, build a sample workspace with the built-in generators, and serve the
# annotation app on http://127.0.0.1:8501 with a demo annotator (the login is printed).
#   bash scripts/demo.sh [curate demo options...]
# Install progress (one line per step and pip's latest line) goes to the terminal, pip's whole
# output to .cache/setup.log; a failed step prints the log's tail.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== 1/2 install (scripts/setup.sh app,postgres) ==" >&2
VENV=$(bash scripts/setup.sh app,postgres | tail -1)
echo "== 2/2 curate demo: 8 sample clips, CPU generators, then the app (about 30 s the first time) ==" >&2
exec "$VENV/bin/curate" demo "$@"
