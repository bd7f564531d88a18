#!/usr/bin/env bash
# The README's test command: sets up everything the tests need, then runs the whole suite.
#   bash scripts/test.sh [pytest args...]
# Creates/updates .venv (CPU torch 2.13.0 first, then the pinned set), installs Debian's chromium for the
# browser tests when missing (needs root or sudo), builds Label Studio's own venv for the integration test,
# and runs a throwaway PostgreSQL server of its own for the run (scripts/pg-throwaway.sh) unless
# CURATE_TEST_PG_URL names one. CURATE_SKIP_SETUP=1 installs nothing with pip: it uses CURATE_VENV and
# CURATE_LS_VENV as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }
# shellcheck source=scripts/pg-throwaway.sh
. scripts/pg-throwaway.sh
trap pg_throwaway_stop EXIT
trap 'exit 130' INT    # so that the EXIT trap stops the server on Ctrl-C and kill too
trap 'exit 143' TERM

step "python environment (${CURATE_VENV:-.venv})"
if [ "${CURATE_SKIP_SETUP:-0}" = 1 ]; then VENV=${CURATE_VENV:-.venv}; echo "CURATE_SKIP_SETUP=1: using $VENV as it is"
else VENV=$(bash scripts/setup.sh all | tail -1)
fi
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
if [ -n "${CURATE_TEST_PG_URL:-}" ]; then
  echo "using CURATE_TEST_PG_URL=$(printf '%s' "$CURATE_TEST_PG_URL" | sed -E 's#://([^:/@]*):[^@]*@#://\1:***@#') (no server started)"
elif ! pg_throwaway_start; then
  echo "no PostgreSQL for the tests (they skip; CURATE_REQUIRE_POSTGRES=1 fails them): $PG_TEST_WHY"
fi

step "Label Studio server venv"
if [ "${CURATE_SKIP_SETUP:-0}" = 1 ]; then
  echo "CURATE_SKIP_SETUP=1: using CURATE_LS_VENV=${CURATE_LS_VENV:-(unset)} as it is"
elif [ -f scripts/labelstudio-venv.sh ]; then
  CURATE_LS_VENV=${CURATE_LS_VENV:-$PWD/.cache/labelstudio-venv}
  export CURATE_LS_VENV
  bash scripts/labelstudio-venv.sh "$CURATE_LS_VENV" || echo "Label Studio venv could not be built: its tests skip"
fi

step "tests"
python -m pytest "$@"
