#!/usr/bin/env bash
# Create/update the project venv and install portrait-curate with the given extras (default: app).
#   bash scripts/setup.sh [EXTRAS]        e.g. bash scripts/setup.sh all
# Uses CURATE_VENV (default .venv) and prints its path last (on stdout; everything else goes to stderr).
# pip's full output goes to .cache/setup.log; the terminal gets one line per step and pip's latest
# "Collecting/Downloading/Installing..." line as it goes (rewritten in place on a terminal), and the
# log's tail when something fails. torch==2.13.0 goes first: on these machines it is a CPU wheel on
# local disk, while any other or unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CURATE_VENV:-.venv}
EXTRAS=${1:-app}
mkdir -p .cache
LOG=.cache/setup.log
: > "$LOG"
WANT_TORCH=0
[[ ",$EXTRAS," == *",all,"* || ",$EXTRAS," == *",train,"* ]] && WANT_TORCH=1
NEW_VENV=0
[ -x "$VENV/bin/python" ] || NEW_VENV=1
PY=${PYTHON:-python3}
NEED_VENV_PKG=0  # Debian's python3 ships venv without ensurepip (package python3-venv)
if [ "$NEW_VENV" = 1 ] && ! "$PY" -c "import ensurepip, venv" 2>/dev/null; then NEED_VENV_PKG=1; fi
STEPS=$((2 + WANT_TORCH + NEW_VENV + NEED_VENV_PKG))
STEP=0
PROGRESS='^(Collecting|Downloading|Processing|Building|Installing|Successfully|Requirement already)'

show() {  # pip's latest progress line: in place on a terminal, else once per change
  if [ -t 2 ]; then printf '\r\033[K      %s' "$1" >&2; else echo "      $1" >&2; fi
}

latest() {  # show this step's newest progress line if it changed (uses run's start and last)
  line=$(tail -n "+$((start + 1))" "$LOG" | grep -E "$PROGRESS" | tail -1 | cut -c1-110 || true)
  if [[ -n $line && $line != "$last" ]]; then show "$line"; last=$line; fi
}

run() {  # run LABEL COMMAND...: one step, its output to the log, its progress to the terminal
  local label=$1 pid last="" line start
  shift
  start=$(wc -l < "$LOG")  # this step's lines only: the log holds every step
  STEP=$((STEP + 1))
  echo "[$STEP/$STEPS] $label" >&2
  "$@" >>"$LOG" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    latest
    sleep 1
  done
  if ! wait "$pid"; then
    [ -t 2 ] && echo >&2
    echo "setup failed: $*" >&2
    grep -v "WARNING: Location" "$LOG" | tail -40 >&2
    exit 1
  fi
  latest
  if [ -t 2 ] && [ -n "$last" ]; then printf '\r\033[K' >&2; fi
}

echo "installing portrait-curate[$EXTRAS] into $VENV (full log: $LOG)" >&2
if [ "$NEED_VENV_PKG" = 1 ]; then  # install python3.X-venv when we may, else say so
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  PKG="python$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
  if $SUDO true 2>/dev/null; then
    run "installing Debian's $PKG (venv needs ensurepip)" sh -c "$SUDO apt-get update -qq && $SUDO apt-get install -y -qq $PKG"
  else
    echo "setup failed: $PY cannot create a venv (no ensurepip); install Debian's $PKG (root), or set PYTHON to another python3" >&2
    exit 1
  fi
fi
if [ "$NEW_VENV" = 1 ]; then run "creating the virtual environment" "$PY" -m venv "$VENV"; fi
run "upgrading pip" "$VENV/bin/python" -m pip install -U pip   # the stock pip 23 takes minutes to resolve this set
if [ "$WANT_TORCH" = 1 ]; then run "installing torch 2.13.0" "$VENV/bin/python" -m pip install torch==2.13.0; fi
run "installing portrait-curate and its dependencies (a few minutes the first time)" \
  "$VENV/bin/python" -m pip install -c constraints.txt -e ".[$EXTRAS]"
echo "done: $VENV" >&2
echo "$VENV"
