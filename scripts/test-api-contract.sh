#!/usr/bin/env bash
# The API contract test: schemathesis (pinned in scripts/requirements-test.txt) runs every
# check in every phase against /api/openapi.json of an isolated backend and must find nothing.
#
# The backend here is alone: its own fresh PostgreSQL database, RabbitMQ vhost and ClickHouse
# database, its own loopback ports (port 0, read back from its log), the scheduler off
# (PINGTOWER_SCHEDULER=off) and no pinger, so no generated URL is ever checked. A user is
# registered and an API token made, so the authenticated routes are exercised.
#
# Environment: PINGTOWER_CONTRACT_EXAMPLES (examples per operation, default 25) bounds the
# wall time; SCHEMATHESIS_VENV overrides where the tool is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
venv="${SCHEMATHESIS_VENV:-$HOME/.cache/pingtower/venv-$(sha256sum scripts/requirements-test.txt | cut -c1-12)}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "[contract] installing scripts/requirements-test.txt into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

backend="$CARGO_TARGET_DIR/debug/backend"
# PINGTOWER_PREBUILT=1 (scripts/test.sh, after its test build): that debug binary is fresh.
if [ "${PINGTOWER_PREBUILT:-}" != 1 ] || [ ! -x "$backend" ]; then
  cargo build --quiet -p backend --bin backend
fi

# Names carry their creation time, so scripts/test.sh removes what a crashed run left.
now=$(date +%s)
db="test_${now}_contract_$$"
vhost="test-${now}-contract-$$"
ch_db="test_${now}_contract_$$"
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  psql -h 127.0.0.1 -U postgres -d postgres -q -c "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
  curl -fsS -u guest:guest -X DELETE "http://127.0.0.1:15672/api/vhosts/$vhost" >/dev/null 2>&1 || true
  curl -fsS -X POST 'http://127.0.0.1:8123/' --data-binary "DROP DATABASE IF EXISTS $ch_db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql -h 127.0.0.1 -U postgres -d postgres -q -c "create database \"$db\""
curl -fsS -u guest:guest -X PUT "http://127.0.0.1:15672/api/vhosts/$vhost" >/dev/null
curl -fsS -u guest:guest -X PUT -H 'content-type: application/json' -d '{"configure":".*","write":".*","read":".*"}' \
  "http://127.0.0.1:15672/api/permissions/$vhost/guest" >/dev/null
curl -fsS -X POST 'http://127.0.0.1:8123/' --data-binary "CREATE DATABASE $ch_db" >/dev/null

export PINGTOWER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export PINGTOWER_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost"
export PINGTOWER_CLICKHOUSE_URL="http://127.0.0.1:8123" PINGTOWER_CLICKHOUSE_DATABASE="$ch_db"
export PINGTOWER_HTTP_ADDR=127.0.0.1:0 PINGTOWER_OPS_ADDR=127.0.0.1:0
export PINGTOWER_SCHEDULER=off
# A bot name, so the Telegram link route answers as in production (201, not the 503 of an
# installation without a bot).
export PINGTOWER_TELEGRAM_BOT_USERNAME=pingtower_contract_bot
# Generated requests are many and come from one address: limits far above them, so the
# contract (not the limiter) is what answers. Their 429s are documented and tested elsewhere.
export PINGTOWER_REGISTER_PER_HOUR=100000 PINGTOWER_PUBLIC_RATE_LIMIT=100000 \
  PINGTOWER_LOGIN_MAX_FAILURES=100000 PINGTOWER_QUOTA_TEST_NOW_PER_MINUTE=100000
export PINGTOWER_TEST_NOW_TIMEOUT=2s
# No notifier answers channel tests here: each ends in the documented 503 after this.
export PINGTOWER_CHANNEL_TEST_TIMEOUT=1s
export PINGTOWER_SECRET_KEY="$(head -c 32 /dev/urandom | base64)"
export PINGTOWER_WEB_DIR="$work/web"
export RUST_LOG="${PINGTOWER_CONTRACT_LOG:-info}" PINGTOWER_LOG_FORMAT=json

"$backend" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log"; exit 1; }
"$backend" serve >"$work/backend.log" 2>&1 &
pid=$!

# The backend logs "listening" for its ops listener (first) and its API listener; the API one
# is the one that serves the document. Wait on it with a deadline.
base=""
for _ in $(seq 1 300); do
  for addr in $(grep '"message":"listening"' "$work/backend.log" | grep -o '"addr":"[0-9.]*:[0-9]*"' | cut -d'"' -f4 || true); do
    if curl -fsS "http://$addr/api/openapi.json" >/dev/null 2>&1; then base="http://$addr"; break 2; fi
  done
  kill -0 "$pid" 2>/dev/null || { cat "$work/backend.log"; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "[contract] the backend did not start"; cat "$work/backend.log"; exit 1; }

# A user (the installation's first: an admin) and an API token made from its session.
jar="$work/cookies"
curl -fsS -c "$jar" -H 'content-type: application/json' \
  -d '{"email":"contract@example.com","password":"contract-password-1"}' "$base/api/auth/register" >/dev/null
token=$(curl -fsS -b "$jar" -H 'content-type: application/json' -H "origin: $base" \
  -d '{"name":"contract","scope":"write"}' "$base/api/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

examples="${PINGTOWER_CONTRACT_EXAMPLES:-25}"
status=0
# Run from the scratch directory: schemathesis keeps its state in ./.schemathesis.
# One worker: with two, the workers' threads parse Python source at once (hypothesis describing
# a strategy's lambda) and CPython 3.11's ast module miscounts its recursion depth across
# threads ("AST constructor recursion depth mismatch", cpython#106905), failing a random
# operation with a runtime error.
cd "$work"
"$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run "$base/api/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$examples" \
  --workers 1 \
  --seed 1 \
  --suppress-health-check all \
  --no-color \
  --report junit --report-dir "$work/report" || status=$?
if [ "$status" -ne 0 ]; then
  echo "[contract] backend log tail:"; tail -n 40 "$work/backend.log"
fi
exit "$status"
