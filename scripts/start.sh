#!/usr/bin/env bash
# The main command: builds in release mode, readies infrastructure, declares the broker
# topology, applies migrations, starts every service in the background (logs and pids in
# ./run) and prints where the dashboard and API are. `scripts/stop.sh` stops exactly these.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR="${PINGTOWER_RUN_DIR:-$ROOT/run}"
mkdir -p "$RUN_DIR/logs"

if [ -f "$RUN_DIR/pids" ]; then bash scripts/stop.sh >/dev/null 2>&1 || true; fi
[ -f .env ] && { set -a; . ./.env; set +a; }

if [ -f web/package.json ] && [ "${PINGTOWER_SKIP_WEB:-}" != 1 ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
cargo build --release --workspace --bins
bash scripts/infra.sh

export PINGTOWER_DATABASE_URL="${PINGTOWER_DATABASE_URL:-postgres://pingtower@127.0.0.1:5432/pingtower}"
export PINGTOWER_AMQP_URL="${PINGTOWER_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export PINGTOWER_CLICKHOUSE_URL="${PINGTOWER_CLICKHOUSE_URL:-http://127.0.0.1:8123}"
export PINGTOWER_ALLOW_PRIVATE_TARGETS="${PINGTOWER_ALLOW_PRIVATE_TARGETS:-true}"
export PINGTOWER_LOG_FORMAT="${PINGTOWER_LOG_FORMAT:-json}"
BIN="$ROOT/target/release"

"$BIN/broker-init"
"$BIN/backend" migrate

: > "$RUN_DIR/pids"
start() { # name, http addr, command...
  local name=$1 addr=$2; shift 2
  PINGTOWER_HTTP_ADDR="$addr" nohup "$@" >>"$RUN_DIR/logs/$name.log" 2>&1 &
  echo "$! $name $addr" >> "$RUN_DIR/pids"
}
API_ADDR="${PINGTOWER_API_ADDR:-127.0.0.1:8080}"
start backend "$API_ADDR" "$BIN/backend"
start pinger "${PINGTOWER_PINGER_ADDR:-127.0.0.1:9101}" "$BIN/pinger"
start archiver "${PINGTOWER_ARCHIVER_ADDR:-127.0.0.1:9102}" "$BIN/archiver"
start llm-service "${PINGTOWER_LLM_ADDR:-127.0.0.1:9103}" "$BIN/llm-service"
start notifier "${PINGTOWER_NOTIFIER_ADDR:-127.0.0.1:9104}" "$BIN/notifier"

# Wait until every service says it is ready.
while read -r pid name addr; do
  ok=0
  for _ in $(seq 1 60); do
    if curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then ok=1; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
  done
  if [ $ok = 1 ]; then echo "  $name ready on http://$addr (pid $pid)";
  else echo "  $name is NOT ready; see $RUN_DIR/logs/$name.log" >&2; fi
done < "$RUN_DIR/pids"

echo
echo "PingTower is running."
echo "  Dashboard: http://$API_ADDR/"
echo "  API:       http://$API_ADDR/api"
echo "  Logs:      $RUN_DIR/logs/   Stop: scripts/stop.sh"
