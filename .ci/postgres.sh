# Sourced by .ci/run: a throwaway PostgreSQL cluster for the Optuna-on-PostgreSQL test
# (tests/scaleout/test_optuna_postgres.py). Also usable by hand:
#   source .ci/postgres.sh && ci_postgres_start && echo "$FINMT_TEST_POSTGRES_URL"   ...   ci_postgres_stop
# ci_postgres_start installs Debian's `postgresql` when absent (as root, with apt-get), initdb's a
# cluster under a temp folder owned by an unprivileged user (postgres, else nobody: initdb refuses
# root), listens on 127.0.0.1 on a free port only (no Unix socket outside the temp folder), trusts
# local connections (a throwaway database nobody else can reach), creates database `optuna` and
# exports FINMT_TEST_POSTGRES_URL=postgresql+psycopg://finmt@127.0.0.1:PORT/optuna.
# Any failure leaves FINMT_TEST_POSTGRES_URL unset: the test then skips and says why.

CI_PG_DIR=""
CI_PG_BIN=""
CI_PG_USER=""

_ci_pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return 0
  fi
  # Debian keeps the server binaries out of PATH, one folder per major version: take the newest
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

_ci_pg_as() {  # run a command as the cluster's owner (directly when not root)
  if [ -n "$CI_PG_USER" ]; then
    runuser -u "$CI_PG_USER" -- "$@"
  else
    "$@"
  fi
}

ci_postgres_start() {
  CI_PG_BIN=$(_ci_pg_bindir || true)
  if [ -z "$CI_PG_BIN" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ci: installing postgresql"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
      || echo "ci: postgresql install failed; the PostgreSQL tests will skip"
    CI_PG_BIN=$(_ci_pg_bindir || true)
  fi
  if [ -z "$CI_PG_BIN" ]; then
    echo "ci: no PostgreSQL server binaries; the PostgreSQL tests will skip"
    return 0
  fi
  if [ "$(id -u)" = "0" ]; then
    if id postgres >/dev/null 2>&1; then CI_PG_USER=postgres; else CI_PG_USER=nobody; fi
  fi
  CI_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/finmt-ci-pg.XXXXXX")
  [ -n "$CI_PG_USER" ] && chown "$CI_PG_USER" "$CI_PG_DIR"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! _ci_pg_as "$CI_PG_BIN/initdb" -D "$CI_PG_DIR/data" -U finmt -A trust --no-sync -E UTF8 \
        >"$CI_PG_DIR/initdb.log" 2>&1; then
    echo "ci: initdb failed; the PostgreSQL tests will skip:"; tail -n 5 "$CI_PG_DIR/initdb.log"
    ci_postgres_stop
    return 0
  fi
  # fsync off: a throwaway cluster; listen on loopback only, socket inside the temp folder
  if ! _ci_pg_as "$CI_PG_BIN/pg_ctl" -D "$CI_PG_DIR/data" -l "$CI_PG_DIR/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $CI_PG_DIR -F -c max_connections=50" start >/dev/null; then
    echo "ci: PostgreSQL did not start; the PostgreSQL tests will skip:"; tail -n 5 "$CI_PG_DIR/server.log"
    ci_postgres_stop
    return 0
  fi
  if ! _ci_pg_as "$CI_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U finmt optuna; then
    echo "ci: createdb failed; the PostgreSQL tests will skip"
    ci_postgres_stop
    return 0
  fi
  export FINMT_TEST_POSTGRES_URL="postgresql+psycopg://finmt@127.0.0.1:$port/optuna"
  echo "ci: PostgreSQL $("$CI_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster $CI_PG_DIR)"
}

ci_postgres_stop() {
  if [ -n "$CI_PG_DIR" ] && [ -d "$CI_PG_DIR" ]; then
    if [ -f "$CI_PG_DIR/data/postmaster.pid" ]; then
      _ci_pg_as "$CI_PG_BIN/pg_ctl" -D "$CI_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$CI_PG_DIR"
  fi
  CI_PG_DIR=""
  unset FINMT_TEST_POSTGRES_URL
}
