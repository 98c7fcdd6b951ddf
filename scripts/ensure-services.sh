#!/usr/bin/env bash
# Makes sure the services the tests need are reachable: PostgreSQL (always),
# RabbitMQ (the rabbitmq queue backend's tests), the interpreters the binding tests drive (ruby), and the tools some tests
# use (promtool, clang for wasm32, chromium for the dashboard).
# On a fresh Debian machine it installs and starts them; on a machine where
# they already run it does nothing. Prints the DATABASE_URL to use when it had
# to set one up (sourced by scripts/test.sh).
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432

log() { echo "ensure-services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# bindings/python runs python3 and builds its package offline into a venv
# with Debian's python3-venv, python3-setuptools and python3-wheel.
python_ready() {
  local py
  for py in python3 /usr/bin/python3; do
    "$py" -c 'import venv, ensurepip, setuptools, wheel' >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! python_ready && command -v apt-get >/dev/null 2>&1; then
  log "installing python3 python3-venv python3-setuptools python3-wheel from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-setuptools python3-wheel >/dev/null ||
    log "could not install the python3 packages: the bindings/python tests will skip"
fi

start_postgres() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    log "starting PostgreSQL $ver cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    return
  fi
  if command -v apt-get >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    return
  fi
  log "PostgreSQL is not reachable on $PGHOST_ADDR:$PGPORT_NUM and cannot be installed here; set DATABASE_URL"
  exit 1
}

# The interpreters the binding tests drive, from Debian packages when missing
# (bindings/ruby needs only ruby: its stdlib has Fiddle and minitest).
install_if_missing() { # <command> <package>...
  command -v "$1" >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then log "$1 not found and no apt-get: its tests will skip"; return 0; fi
  shift
  log "installing $* from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || log "could not install $*"
}
install_if_missing ruby ruby
# promtool checks and unit-tests the alerting rules (internal/deploycheck);
# Debian ships it in the prometheus package (about 25 s to install without
# recommends). The server it also installs is not started.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  log "installing prometheus (for promtool) from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
    log "could not install prometheus: the promtool checks of deploy/prometheus will skip"
fi

# The dashboard's browser tests (orchestration/web) drive Debian's headless
# chromium (about 25 s to install without recommends when the package lists
# are fresh); without it they skip.
if ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } &&
  command -v apt-get >/dev/null 2>&1; then
  log "installing chromium (for the dashboard's browser tests) from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
    log "could not install chromium: the dashboard's browser tests will skip"
fi

# worker/wasm builds its C example guest with clang for wasm32-wasi (clang,
# the wasm-ld linker, wasi-libc and the wasm32 compiler runtime); without
# them the C guest tests skip.
if ! { command -v clang >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 && [ -e /usr/lib/wasm32-wasi/libc.a ] &&
  ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; } &&
  command -v apt-get >/dev/null 2>&1; then
  log "installing clang lld wasi-libc libclang-rt-dev-wasm32 from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang lld wasi-libc libclang-rt-dev-wasm32 >/dev/null ||
    log "could not install the wasm32 C toolchain: the C guest tests will skip"
fi

# RabbitMQ, for shared/messaging/rabbitmq (scripts/test.sh makes those tests
# fail rather than skip when the broker cannot be reached). Skipped when
# RABBITMQ_URL points elsewhere. Debian's package when missing; started with
# rabbitmq-server -detached, then waited for: the port, and the broker's own
# await_startup.
RABBIT_ADDR=127.0.0.1
RABBIT_PORT=5672
if [ -z "${RABBITMQ_URL:-}" ] && ! port_open "$RABBIT_ADDR" "$RABBIT_PORT"; then
  if ! command -v rabbitmq-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    log "installing rabbitmq-server from Debian packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null 2>&1 ||
      { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null; } ||
      log "could not install rabbitmq-server"
  fi
  if command -v rabbitmq-server >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached >/dev/null 2>&1 || log "rabbitmq-server -detached failed"
    for _ in $(seq 1 240); do
      port_open "$RABBIT_ADDR" "$RABBIT_PORT" && break
      sleep 0.5
    done
    if port_open "$RABBIT_ADDR" "$RABBIT_PORT" && as_root rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1; then
      log "RabbitMQ is up on $RABBIT_ADDR:$RABBIT_PORT"
    else
      log "RabbitMQ did not come up on $RABBIT_ADDR:$RABBIT_PORT: the rabbitmq backend's tests will fail"
    fi
  else
    log "rabbitmq-server not available: the rabbitmq backend's tests will fail (TASKER_REQUIRE_RABBITMQ)"
  fi
fi

if [ -n "${DATABASE_URL:-}" ]; then
  exit 0
fi

if ! port_open "$PGHOST_ADDR" "$PGPORT_NUM"; then
  start_postgres
  for _ in $(seq 1 60); do
    port_open "$PGHOST_ADDR" "$PGPORT_NUM" && break
    sleep 0.5
  done
  port_open "$PGHOST_ADDR" "$PGPORT_NUM" || { log "PostgreSQL did not come up"; exit 1; }
fi

# A fresh Debian install asks for a password over TCP; give the postgres role
# one the tests can use, and tell the caller.
if command -v psql >/dev/null 2>&1 && ! psql "postgres://postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres?connect_timeout=5" -Atqc 'select 1' >/dev/null 2>&1; then
  if psql "postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres?connect_timeout=5" -Atqc 'select 1' >/dev/null 2>&1; then
    echo "postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres?sslmode=disable"
    exit 0
  fi
  log "setting a password for the postgres role (local test server)"
  as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  echo "postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres?sslmode=disable"
fi
