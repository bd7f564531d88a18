# A throwaway PostgreSQL server for the tests; sourced by scripts/test.sh (bash, run from the repo root).
#   pg_throwaway_start  finds initdb/pg_ctl (PATH, then Debian's /usr/lib/postgresql/*/bin; installs Debian's
#                       `postgresql` first when they are missing and we are root or have sudo), initdb's a
#                       trust-auth cluster (superuser `postgres`) in .cache/pg-test/run-<pid>, starts it on a free
#                       127.0.0.1 port (no Unix socket) and exports CURATE_TEST_PG_URL. When it cannot, it sets
#                       PG_TEST_WHY (why, and what to do: one line) and returns 1.
#   pg_throwaway_stop   stops that server and removes its folder (test.sh calls it from its EXIT trap).
# The machine's own PostgreSQL (5432 or wherever) is never touched. initdb refuses to run as root, so as root the
# cluster belongs to the `postgres` system user (Debian's package creates it), else to `nobody`.

PG_TEST_ROOT=$PWD/.cache/pg-test
PG_TEST_DIR=""    # this run's folder, set once a server may need stopping
PG_TEST_BIN=""
PG_TEST_USER=""   # empty: run the server as ourselves (not root)
PG_TEST_WHY=""    # why no server could be started

_pg_bin_dir() {  # the folder holding initdb and pg_ctl, newest version first
  local d
  for d in "$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")")" \
           $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

_pg_as_user() {  # run a command as the cluster's owner
  if [ -z "$PG_TEST_USER" ]; then "$@"
  elif command -v runuser >/dev/null 2>&1; then runuser -u "$PG_TEST_USER" -- "$@"
  else su -s /bin/sh "$PG_TEST_USER" -c "$(printf '%q ' "$@")"
  fi
}

_pg_reap() {  # servers and folders left by runs that were killed (their test.sh is gone)
  local d owner
  for d in "$PG_TEST_ROOT"/run-*; do
    [ -d "$d" ] || continue
    owner=${d##*/run-}
    kill -0 "$owner" 2>/dev/null && continue   # another test.sh still uses it
    if [ -f "$d/data/postmaster.pid" ]; then
      if [ "$(id -u)" = 0 ]; then runuser -u "$(stat -c %U "$d/data")" -- "$PG_TEST_BIN/pg_ctl" -D "$d/data" -m immediate stop
      else "$PG_TEST_BIN/pg_ctl" -D "$d/data" -m immediate stop
      fi >/dev/null 2>&1 || true
    fi
    rm -rf "$d"
  done
}

_pg_locale() {  # C.UTF-8 (byte order, UTF-8 text) where the system has it, else plain C
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

_pg_free_port() {  # a port nothing listens on now (the OS picks it)
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_pg_install() {  # Debian's server package, when we may (root or passwordless sudo)
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo true 2>/dev/null || return 1
  echo "installing Debian's postgresql (server binaries for the throwaway test server)"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql >/dev/null
}

_pg_pick_user() {  # as root: an unprivileged owner that can write under PG_TEST_ROOT
  PG_TEST_USER=""
  [ "$(id -u)" = 0 ] || return 0
  if id postgres >/dev/null 2>&1; then PG_TEST_USER=postgres; else PG_TEST_USER=nobody; fi
  mkdir -p "$PG_TEST_ROOT"
  chown "$PG_TEST_USER" "$PG_TEST_ROOT"
  if ! _pg_as_user test -w "$PG_TEST_ROOT"; then  # a parent folder is closed to others (e.g. under /root)
    PG_TEST_ROOT=${TMPDIR:-/tmp}/curate-pg-test
    mkdir -p "$PG_TEST_ROOT" && chown "$PG_TEST_USER" "$PG_TEST_ROOT"
  fi
}

pg_throwaway_start() {
  local port="" data log _
  PG_TEST_BIN=$(_pg_bin_dir) || { _pg_install && PG_TEST_BIN=$(_pg_bin_dir); } || {
    PG_TEST_WHY="no initdb/pg_ctl, and Debian's postgresql could not be installed (needs root or sudo); install the server (apt-get install"
    PG_TEST_WHY+=" postgresql) or set CURATE_TEST_PG_URL to a superuser's URL"
    return 1; }
  _pg_pick_user
  mkdir -p "$PG_TEST_ROOT"
  _pg_reap
  PG_TEST_DIR=$PG_TEST_ROOT/run-$$
  data=$PG_TEST_DIR/data
  log=$PG_TEST_DIR/server.log
  mkdir -p "$PG_TEST_DIR"
  [ -z "$PG_TEST_USER" ] || chown "$PG_TEST_USER" "$PG_TEST_DIR"
  if ! _pg_as_user "$PG_TEST_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale="$(_pg_locale)" --no-sync \
       >"$PG_TEST_DIR/initdb.log" 2>&1; then
    PG_TEST_WHY="initdb failed ($(tail -1 "$PG_TEST_DIR/initdb.log")); see $PG_TEST_DIR/initdb.log"
    PG_TEST_DIR=""; return 1
  fi
  # A port picked now may be taken before the server binds it: try a few. fsync off: the data is thrown away.
  for _ in 1 2 3; do
    port=$(_pg_free_port) || { port=""; break; }
    _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k '' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1 && break
    port=""
  done
  if [ -z "$port" ] || ! "$PG_TEST_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
    PG_TEST_WHY="the throwaway server did not start ($(tail -1 "$log" 2>/dev/null)); see $log"
    pg_throwaway_stop_keep_log; return 1
  fi
  export CURATE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  echo "throwaway PostgreSQL $("$PG_TEST_BIN/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" \
       "(data in ${PG_TEST_DIR#"$PWD"/}, removed on exit)"
}

pg_throwaway_stop_keep_log() {  # stop a half-started server; keep its folder (and log) for a look
  [ -n "$PG_TEST_DIR" ] && [ -f "$PG_TEST_DIR/data/postmaster.pid" ] &&
    _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1
  PG_TEST_DIR=""
}

pg_throwaway_stop() {
  [ -n "$PG_TEST_DIR" ] || return 0
  if [ -f "$PG_TEST_DIR/data/postmaster.pid" ]; then
    _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=""
}
