#!/usr/bin/env bash
# The main command: builds in release mode, readies infrastructure, declares the broker
# topology, applies migrations, starts every service in the background (logs and pids in
# ./run) and prints where the dashboard and API are. `scripts/stop.sh` stops exactly these.
#
#   scripts/start.sh                  build, ready, migrate, start all five services
#   scripts/start.sh --only pinger    (re)start one service of a running suite, same settings
#
# Environment: PINGTOWER_RUN_DIR (default ./run), PINGTOWER_BUILD_PROFILE (release | debug;
# debug reuses the test build), PINGTOWER_SKIP_WEB=1 (do not build web/), the per-service
# listen addresses PINGTOWER_{API,PINGER,ARCHIVER,LLM,NOTIFIER}_ADDR, the backend's ops address
# PINGTOWER_OPS_ADDR (/metrics, /readyz), and every variable of .env.example (read from ./.env
# when present).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR="${PINGTOWER_RUN_DIR:-$ROOT/run}"
mkdir -p "$RUN_DIR/logs"

ONLY=""
if [ "${1:-}" = "--only" ]; then ONLY="${2:?--only needs a service name}"; fi

[ -f .env ] && { set -a; . ./.env; set +a; }
PROFILE="${PINGTOWER_BUILD_PROFILE:-release}"
case "$PROFILE" in
  release) BUILD_FLAGS=(--release) ;;
  debug) BUILD_FLAGS=() ;;
  *) echo "PINGTOWER_BUILD_PROFILE must be release or debug" >&2; exit 2 ;;
esac
BIN="$ROOT/target/$PROFILE"

export PINGTOWER_DATABASE_URL="${PINGTOWER_DATABASE_URL:-postgres://pingtower@127.0.0.1:5432/pingtower}"
export PINGTOWER_AMQP_URL="${PINGTOWER_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export PINGTOWER_CLICKHOUSE_URL="${PINGTOWER_CLICKHOUSE_URL:-http://127.0.0.1:8123}"
export PINGTOWER_ALLOW_PRIVATE_TARGETS="${PINGTOWER_ALLOW_PRIVATE_TARGETS:-true}"
export PINGTOWER_LOG_FORMAT="${PINGTOWER_LOG_FORMAT:-json}"
API_ADDR="${PINGTOWER_API_ADDR:-127.0.0.1:8080}"
# The backend serves /metrics and /readyz here, not on the API address.
export PINGTOWER_OPS_ADDR="${PINGTOWER_OPS_ADDR:-127.0.0.1:9464}"
export PINGTOWER_PUBLIC_URL="${PINGTOWER_PUBLIC_URL:-http://$API_ADDR}"
export PINGTOWER_WEB_DIR="${PINGTOWER_WEB_DIR:-$ROOT/web/dist}"

addr_of() {
  case "$1" in
    backend) echo "$API_ADDR" ;;
    pinger) echo "${PINGTOWER_PINGER_ADDR:-127.0.0.1:9101}" ;;
    archiver) echo "${PINGTOWER_ARCHIVER_ADDR:-127.0.0.1:9102}" ;;
    llm-service) echo "${PINGTOWER_LLM_ADDR:-127.0.0.1:9103}" ;;
    notifier) echo "${PINGTOWER_NOTIFIER_ADDR:-127.0.0.1:9104}" ;;
    *) echo "unknown service: $1" >&2; return 2 ;;
  esac
}

start() { # name: starts it in the background, records "pid name addr" in $RUN_DIR/pids
  local name=$1 addr
  addr=$(addr_of "$name")
  PINGTOWER_HTTP_ADDR="$addr" nohup "$BIN/$name" >>"$RUN_DIR/logs/$name.log" 2>&1 &
  local pid=$!
  touch "$RUN_DIR/pids"
  grep -v " $name " "$RUN_DIR/pids" > "$RUN_DIR/pids.tmp" || true
  echo "$pid $name $addr" >> "$RUN_DIR/pids.tmp"
  mv "$RUN_DIR/pids.tmp" "$RUN_DIR/pids"
}

ready_addr_of() { # name addr: where the service answers /readyz
  if [ "$1" = backend ]; then echo "$PINGTOWER_OPS_ADDR"; else echo "$2"; fi
}

wait_ready() { # pid name addr
  local pid=$1 name=$2 addr=$3 ready
  ready=$(ready_addr_of "$name" "$addr")
  for _ in $(seq 1 90); do
    if curl -fsS "http://$ready/readyz" >/dev/null 2>&1; then
      echo "  $name ready on http://$addr (pid $pid)"; return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
  done
  echo "  $name is NOT ready; see $RUN_DIR/logs/$name.log" >&2
  return 1
}

if [ -n "$ONLY" ]; then
  addr_of "$ONLY" >/dev/null
  if [ -f "$RUN_DIR/pids" ]; then
    old=$(awk -v n="$ONLY" '$2 == n { print $1 }' "$RUN_DIR/pids")
    if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
      kill -TERM "$old"; for _ in $(seq 1 15); do kill -0 "$old" 2>/dev/null || break; sleep 1; done
      kill -KILL "$old" 2>/dev/null || true
    fi
  fi
  start "$ONLY"
  read -r pid name addr < <(grep " $ONLY " "$RUN_DIR/pids")
  wait_ready "$pid" "$name" "$addr"
  exit $?
fi

if [ -f "$RUN_DIR/pids" ]; then bash scripts/stop.sh >/dev/null 2>&1 || true; fi

if [ -f web/package.json ] && [ "${PINGTOWER_SKIP_WEB:-}" != 1 ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
cargo build "${BUILD_FLAGS[@]}" --workspace --bins
bash scripts/infra.sh

"$BIN/broker-init"
"$BIN/backend" migrate

: > "$RUN_DIR/pids"
for service in backend pinger archiver llm-service notifier; do start "$service"; done

# Wait until every service says it is ready.
failed=0
while read -r pid name addr; do
  wait_ready "$pid" "$name" "$addr" || failed=1
done < "$RUN_DIR/pids"

echo
if [ $failed = 0 ]; then echo "PingTower is running."; else echo "PingTower started with errors." >&2; fi
echo "  Dashboard: http://$API_ADDR/"
echo "  API:       http://$API_ADDR/api"
echo "  Metrics:   http://$PINGTOWER_OPS_ADDR/metrics (backend; the others on their own addresses)"
echo "  Logs:      $RUN_DIR/logs/   Stop: scripts/stop.sh"
exit $failed
