#!/usr/bin/env bash
# Web tests: unit tests (Vitest) and the production build; then, when the suite can be
# started, the browser tests (playwright-core driving Debian's Chromium) against it.
set -euo pipefail
cd "$(dirname "$0")/../web"

npm ci --no-audit --no-fund --loglevel=error

# The API types must be those of the backend's document as it is now: a DTO or route changed
# without `scripts/api-types.sh` fails here.
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
bash ../scripts/api-types.sh "$fresh"
for f in openapi.json schema.d.ts; do
  if ! cmp -s "$fresh/$f" "src/api/$f"; then
    echo "web/src/api/$f is out of date with the backend's OpenAPI document." >&2
    diff -u "src/api/$f" "$fresh/$f" | head -40 >&2 || true
    echo "Run scripts/api-types.sh and commit web/src/api/openapi.json and schema.d.ts." >&2
    exit 1
  fi
done
rm -rf "$fresh"
trap - EXIT

npm test
npm run build

if ! grep -q '"test:e2e"' package.json; then
  exit 0
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: browser tests skipped" >&2; exit 1
  fi
fi

# A separate run directory and ports, so a suite started by hand is left alone.
cd ..
export PINGTOWER_RUN_DIR="$(pwd)/run/e2e"
# The walk-through's own secrets key and ops listener, never the developer's ./.env or 9464.
export PINGTOWER_ENV_FILE="$PINGTOWER_RUN_DIR/.env" PINGTOWER_OPS_ADDR=127.0.0.1:19464
export PINGTOWER_API_ADDR=127.0.0.1:18080 PINGTOWER_PINGER_ADDR=127.0.0.1:19101 \
  PINGTOWER_ARCHIVER_ADDR=127.0.0.1:19102 PINGTOWER_LLM_ADDR=127.0.0.1:19103 \
  PINGTOWER_NOTIFIER_ADDR=127.0.0.1:19104 PINGTOWER_SKIP_WEB=1
# A fresh database, vhost and ClickHouse database for every run.
psql -h 127.0.0.1 -U postgres -d postgres -q -c "drop database if exists pingtower_e2e with (force)" \
  -c "create database pingtower_e2e owner pingtower"
curl -fsS -u guest:guest -X DELETE http://127.0.0.1:15672/api/vhosts/pingtower-e2e >/dev/null 2>&1 || true
curl -fsS -u guest:guest -X PUT http://127.0.0.1:15672/api/vhosts/pingtower-e2e >/dev/null
curl -fsS -u guest:guest -X PUT -H 'content-type: application/json' \
  -d '{"configure":".*","write":".*","read":".*"}' http://127.0.0.1:15672/api/permissions/pingtower-e2e/guest >/dev/null
curl -fsS -X POST http://127.0.0.1:8123/ --data-binary "DROP DATABASE IF EXISTS pingtower_e2e" >/dev/null
export PINGTOWER_DATABASE_URL=postgres://pingtower@127.0.0.1:5432/pingtower_e2e
export PINGTOWER_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/pingtower-e2e
export PINGTOWER_CLICKHOUSE_DATABASE=pingtower_e2e
# The Telegram link flow needs a bot name for the deep link (no bot token: nothing is sent).
export PINGTOWER_TELEGRAM_BOT_USERNAME="${PINGTOWER_TELEGRAM_BOT_USERNAME:-pingtower_e2e_bot}"
export PINGTOWER_ALLOW_PRIVATE_TARGETS=true
# The debug binaries the Rust tests just built: no second, release build in the test run.
export PINGTOWER_BUILD_PROFILE="${PINGTOWER_BUILD_PROFILE:-debug}"
ROOT=$(pwd)
# Absolute path: the trap runs after `cd web`.
trap 'bash "$ROOT/scripts/stop.sh" >/dev/null 2>&1 || true' EXIT
bash scripts/start.sh
cd web
export PINGTOWER_E2E_URL="http://$PINGTOWER_API_ADDR"
status=0
npm run test:e2e || status=$?
echo "web: screenshots in web/test-artifacts/"
# The 10,000-target benchmark is slower; run it with PINGTOWER_WEB_BENCH=1 (or `npm run bench`).
if [ "${PINGTOWER_WEB_BENCH:-}" = 1 ]; then
  npm run bench || status=$?
fi
exit $status
