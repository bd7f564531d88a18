#!/usr/bin/env bash
# The README's main job: set up, build a sample workspace with the built-in generators, and serve the
# annotation app on http://127.0.0.1:8501 with a demo annotator (the login is printed).
#   bash scripts/demo.sh [curate demo options...]      e.g. bash scripts/demo.sh --port 8502
# The port is checked first, before anything is installed or reset: a demo that is already serving
# keeps running, with its logins, and this run stops with one line naming the process on the port.
# Install progress (one line per step and pip's latest line) goes to the terminal, pip's whole
# output to .cache/setup.log; a failed step prints the log's tail.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=8501 SERVE=1 prev=""
for a in "$@"; do
  case "$a" in
    --port=*) PORT=${a#--port=} ;;
    --no-serve) SERVE=0 ;;
  esac
  [ "$prev" = "--port" ] && PORT=$a
  prev=$a
done

port_holder() {  # "pid (command line)" of the process listening on $1, or nothing when unknown
  local pid=""
  if command -v ss >/dev/null; then
    pid=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  fi
  if [ -z "$pid" ] && command -v lsof >/dev/null; then
    pid=$(lsof -t -iTCP:"$1" -sTCP:LISTEN 2>/dev/null | head -1 || true)
  fi
  [ -n "$pid" ] && echo "$pid ($(ps -o args= -p "$pid" 2>/dev/null | cut -c1-100))"
  return 0
}

if [ "$SERVE" = 1 ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  holder=$(port_holder "$PORT")
  echo "Port $PORT is already in use${holder:+ by process $holder}; nothing was installed or reset." >&2
  echo "  If that is the demo you started before, open http://127.0.0.1:$PORT/ with the login it printed" \
       "(stop it with Ctrl-C in its terminal${holder:+, or kill ${holder%% *}})." >&2
  echo "  Or serve this one on another port: bash scripts/demo.sh --port $((PORT + 1))" >&2
  exit 1
fi

echo "== 1/2 install (scripts/setup.sh app,postgres) ==" >&2
VENV=$(bash scripts/setup.sh app,postgres | tail -1)
echo "== 2/2 curate demo: 8 sample clips, CPU generators, then the app (about a minute the first time) ==" >&2
exec "$VENV/bin/curate" demo "$@"
