#!/usr/bin/env bash
# The README's main job: set up, build a sample workspace with the built-in generators, and serve the
# annotation app on http://127.0.0.1:8501 with a demo annotator (the login is printed).
#   bash scripts/demo.sh [curate demo options...]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/setup.sh app,postgres | tail -1)
exec "$VENV/bin/curate" demo "$@"
