#!/usr/bin/env bash
# The README's test command: sets up everything the tests need, then runs the whole suite.
#   bash scripts/test.sh [pytest args...]
# Creates/updates .venv (CPU torch 2.13.0 first, then the pinned set), installs Debian's chromium for the
# browser tests when missing (needs root or sudo), builds Label Studio's own venv for the integration test,
# and starts the local PostgreSQL server when it is installed but down.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "python environment (${CURATE_VENV:-.venv})"
VENV=$(bash scripts/setup.sh all | tail -1)
# shellcheck disable=SC1091
. "$VENV/bin/activate"

step "system packages"
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if $SUDO true 2>/dev/null; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium missing and no root: browser tests will skip"
  fi
fi
command -v chromium >/dev/null 2>&1 && chromium --version 2>/dev/null | head -1 || true

step "PostgreSQL"
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 2>/dev/null || echo "PostgreSQL not running: its tests skip (set CURATE_REQUIRE_POSTGRES=1 to fail instead)"

step "Label Studio server venv"
if [ -f scripts/labelstudio-venv.sh ]; then
  CURATE_LS_VENV=${CURATE_LS_VENV:-$PWD/.cache/labelstudio-venv}
  export CURATE_LS_VENV
  bash scripts/labelstudio-venv.sh "$CURATE_LS_VENV" || echo "Label Studio venv could not be built: its tests skip"
fi

step "tests"
python -m pytest "$@"
