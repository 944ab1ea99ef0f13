#!/usr/bin/env bash
# Runs every RuleFlow test against real services, on 127.0.0.1 only.
#
#   tools/test.sh [extra `dotnet test` arguments]
#   tools/test.sh --run <command...>    start the services, run <command> instead (e.g. one test project)
#
# 1. Installs what is missing, from Debian packages: rabbitmq-server, postgresql and chromium (the Studio's
#    browser tests). Needs root or sudo for that step only.
# 2. Starts a private RabbitMQ node and a private PostgreSQL cluster in a temporary directory, on their own
#    ports (so a broker or database already running on this machine is neither used nor disturbed).
# 3. Runs `dotnet test RuleFlow.sln` with their addresses in RULEFLOW_TEST_AMQP and RULEFLOW_TEST_POSTGRES,
#    and the shared datasets folder in RULEFLOW_DATASETS; before that, the Studio's Vitest tests (npm ci, vitest run).
# 4. Stops what it started and removes the temporary directory, also on failure or Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

amqp_port=${RULEFLOW_TEST_AMQP_PORT:-5682}
dist_port=$((amqp_port + 20000))
pg_port=${RULEFLOW_TEST_PG_PORT:-5433}
work=$(mktemp -d /tmp/ruleflow-test.XXXXXX)
chmod 755 "$work"
node="ruleflow-test-$$@localhost"

log() { printf '[test.sh %(%H:%M:%S)T] %s\n' -1 "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root (or sudo) to run: $*"; exit 1; fi
}

# --- 1. install -----------------------------------------------------------------------------------------
pg_bin=""
find_pg_bin() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
}
find_pg_bin
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
{ [ -n "$pg_bin" ] && [ -x "$pg_bin/postgres" ]; } || missing+=(postgresql)
if [ -d src/RuleFlow.Studio ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing from Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  find_pg_bin
fi
# The Debian package may start a system broker/cluster of its own; ours runs on other ports and leaves it alone.

# --- 2. start -------------------------------------------------------------------------------------------
rabbit_env=(
  HOME="$work/rabbitmq"
  RABBITMQ_NODENAME="$node"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  RABBITMQ_NODE_PORT="$amqp_port"
  RABBITMQ_DIST_PORT="$dist_port"
  RABBITMQ_MNESIA_BASE="$work/rabbitmq/mnesia"
  RABBITMQ_LOG_BASE="$work/rabbitmq/log"
  RABBITMQ_PID_FILE="$work/rabbitmq/rabbitmq.pid"
  RABBITMQ_ENABLED_PLUGINS_FILE="$work/rabbitmq/enabled_plugins"
  RABBITMQ_CONFIG_FILE="$work/rabbitmq/rabbitmq.conf"
)
rabbit_pid=""
pg_started=""

cleanup() {
  local status=$?
  set +e
  if [ -n "$rabbit_pid" ]; then
    log "stopping RabbitMQ node $node"
    env "${rabbit_env[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" stop >/dev/null 2>&1 \
      || kill "$rabbit_pid" 2>/dev/null
    wait "$rabbit_pid" 2>/dev/null
  fi
  if [ -n "$pg_started" ]; then
    log "stopping PostgreSQL on port $pg_port"
    as_root su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$work/pg/data' -m fast -w stop" >/dev/null 2>&1
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/rabbitmq/mnesia" "$work/rabbitmq/log"
echo '[rabbitmq_management].' >"$work/rabbitmq/enabled_plugins"
# Management listener on a free port of its own, loopback only.
cat >"$work/rabbitmq/rabbitmq.conf" <<EOF
management.tcp.port = $((amqp_port + 10000))
management.tcp.ip = 127.0.0.1
loopback_users.guest = true
EOF
log "starting RabbitMQ node $node on 127.0.0.1:$amqp_port"
env "${rabbit_env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$work/rabbitmq/server.out" 2>&1 &
rabbit_pid=$!

log "starting PostgreSQL on 127.0.0.1:$pg_port"
mkdir -p "$work/pg/socket"
as_root chown -R postgres "$work/pg"
as_root su postgres -s /bin/sh -c "'$pg_bin/initdb' -D '$work/pg/data' --auth=trust -U postgres -E UTF8 --no-sync" >"$work/initdb.out" 2>&1 \
  || { cat "$work/initdb.out"; exit 1; }
as_root su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$work/pg/data' -l '$work/pg/server.log' -w -o \"-p $pg_port -k $work/pg/socket -c listen_addresses=127.0.0.1 -c fsync=off\" start" >/dev/null \
  || { cat "$work/pg/server.log"; exit 1; }
pg_started=1

if ! env "${rabbit_env[@]}" timeout 90 /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" wait --timeout 60 "$work/rabbitmq/rabbitmq.pid" >/dev/null 2>&1; then
  log "RabbitMQ did not start:"; tail -n 40 "$work/rabbitmq/server.out"; exit 1
fi
log "RabbitMQ ready"

export RULEFLOW_TEST_AMQP="amqp://guest:guest@127.0.0.1:$amqp_port/"
export RULEFLOW_TEST_AMQP_MANAGEMENT="http://127.0.0.1:$((amqp_port + 10000))/"
export RULEFLOW_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres"
if [ -z "${RULEFLOW_DATASETS:-}" ]; then
  for candidate in "$root/../shared/datasets" "/work/shared/datasets"; do
    if [ -d "$candidate" ]; then RULEFLOW_DATASETS=$(cd "$candidate" && pwd); break; fi
  done
fi
export RULEFLOW_DATASETS=${RULEFLOW_DATASETS:-}
[ -n "$RULEFLOW_DATASETS" ] && log "datasets: $RULEFLOW_DATASETS" || log "datasets folder not found: tests that need it will fail and say so"

# --- 3. test --------------------------------------------------------------------------------------------
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ "${1:-}" = "--run" ]; then
  shift
  log "running: $*"
  "$@"
  exit $?
fi
if [ -d src/RuleFlow.Studio ]; then
  # The Studio's own tests (Vitest: YAML ⇄ graph mapping, schema forms, SSE parser) need no services.
  log "Studio: npm ci && vitest run"
  (cd src/RuleFlow.Studio && npm ci --no-audit --no-fund && date -u >node_modules/.ruleflow-npm-ci && npx vitest run)
fi
log "dotnet test RuleFlow.sln"
dotnet test RuleFlow.sln --nologo -v minimal "$@"
log "all tests passed"
