#!/usr/bin/env bash
# The test command: readies local infrastructure, then runs the whole test suite
# (Rust unit and integration tests against the real RabbitMQ, PostgreSQL and ClickHouse,
# then the web tests when web/ exists).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/infra.sh

# Tools the tests use: an SMTP server on loopback (aiosmtpd, `common::testing::SmtpSink`) for
# the email tests,
# importable by the `python3` on PATH (pip when it has one, else Debian's package).
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "[test] installing aiosmtpd"
  if ! python3 -m pip install --quiet --disable-pip-version-check aiosmtpd >/dev/null 2>&1; then
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-aiosmtpd >/dev/null
  fi
fi

# promtool (Debian's `prometheus` package) checks every service's /metrics in the health
# tests; installed here once, before tests run in parallel (the tests install it too when run
# on their own).
if ! command -v promtool >/dev/null 2>&1; then
  echo "[test] installing promtool (prometheus)"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# oathtool (Debian's `oathtool` package) computes the TOTP codes of the two-factor tests, an
# implementation independent of the backend's (the tests install it too when run on their own).
if ! command -v oathtool >/dev/null 2>&1; then
  echo "[test] installing oathtool"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends oathtool >/dev/null
fi

# The OpenID provider of the single sign-on tests (backend/tests/it/oidc.rs): the `oidc-provider`
# npm package on Node, installed from its lockfile once, before tests run in parallel.
if [ ! -d backend/tests/oidc-provider/node_modules/oidc-provider ]; then
  echo "[test] installing the test OpenID provider (npm ci in backend/tests/oidc-provider)"
  (cd backend/tests/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
fi

# Remove what crashed earlier runs left behind (names carry their creation time).
now=$(date +%s)
stale_before=$((now - 7200))
curl -fsS -u guest:guest http://127.0.0.1:15672/api/vhosts \
  | python3 -c 'import json,sys; [print(v["name"]) for v in json.load(sys.stdin)]' \
  | while read -r v; do
      case "$v" in test-*) ts=$(echo "$v" | cut -d- -f2)
        if [[ "$ts" =~ ^[0-9]+$ ]] && [ "$ts" -lt "$stale_before" ]; then
          curl -fsS -u guest:guest -X DELETE "http://127.0.0.1:15672/api/vhosts/$v" >/dev/null || true
        fi;;
      esac
    done || true
psql -h 127.0.0.1 -U postgres -d postgres -qtA -c "select datname from pg_database where datname like 'test\_%'" \
  | while read -r db; do
      ts=$(echo "$db" | cut -d_ -f2)
      if [[ "$ts" =~ ^[0-9]+$ ]] && [ "$ts" -lt "$stale_before" ]; then
        psql -h 127.0.0.1 -U postgres -d postgres -q -c "drop database if exists \"$db\" with (force)" || true
      fi
    done || true
curl -fsS 'http://127.0.0.1:8123/?query=SHOW%20DATABASES' | { grep '^test_' || true; } \
  | while read -r db; do
      ts=$(echo "$db" | cut -d_ -f2)
      if [[ "$ts" =~ ^[0-9]+$ ]] && [ "$ts" -lt "$stale_before" ]; then
        curl -fsS -X POST 'http://127.0.0.1:8123/' --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
      fi
    done || true
echo "[test] stale test databases and vhosts removed"

# Compile-checked SQL: the query macros (`sqlx::query!` and kin) build from the committed
# `.sqlx/` offline data, and this checks that data against the schema: a database migrated
# from scratch with `migrations/`, then `cargo sqlx prepare --check` fails when a query, the
# schema and the offline data have drifted apart. After changing a query or a migration,
# regenerate the data (with the database this creates, or one migrated the same way):
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/pingtower_sqlx cargo sqlx prepare --workspace
SQLX_CLI_VERSION=0.9.0
if ! cargo sqlx --version 2>/dev/null | grep -q " ${SQLX_CLI_VERSION}\$"; then
  echo "[test] installing sqlx-cli ${SQLX_CLI_VERSION}"
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --no-default-features --features postgres,rustls \
    --locked --quiet
fi
sqlx_db=postgres://postgres@127.0.0.1:5432/pingtower_sqlx
cargo sqlx database reset -y -f --source migrations --database-url "$sqlx_db" >/dev/null
# prepare runs `cargo check` over the workspace in the test build's target directory: its
# metadata-only units sit beside the test build's and share its build scripts and proc macros.
DATABASE_URL="$sqlx_db" cargo sqlx prepare --check --workspace
echo "[test] .sqlx offline data matches the queries and the migrations"

# The compose file must stay valid (checked whenever a compose client is present; with only
# the docker client, Debian's docker-compose is installed to check it).
if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1 \
    && ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[test] installing docker-compose to validate compose.yml"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1; } \
    || echo "[test] docker-compose could not be installed: compose.yml not validated"
fi
if docker compose version >/dev/null 2>&1; then
  docker compose -f compose.yml config -q && echo "compose.yml: valid (docker compose config)"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f compose.yml config -q && echo "compose.yml: valid (docker-compose config)"
fi

export PINGTOWER_ALLOW_PRIVATE_TARGETS=true
export RUST_LOG="${RUST_LOG:-warn}"

# The test build below makes every binary (each crate's integration tests need its own): the
# acceptance test's scripts/start.sh, the web walk-through's and the API-types check start
# those, instead of building them again without the tests' features (`testing` in common and
# bus, which only adds test fakes). Not when a filter is passed: then some may be stale.
if [ $# -eq 0 ]; then export PINGTOWER_PREBUILT=1; fi
# `--tests`: the libraries' unit tests and the integration tests (which build the binaries they
# start). The examples (the benchmarks) are not built here: clippy has checked
# that they compile.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --tests --no-fail-fast --profile ci "$@"
else
  cargo test --workspace --tests --no-fail-fast "$@"
fi

# The API contract: schemathesis against an isolated backend, zero failures.
bash scripts/test-api-contract.sh

if [ -f web/package.json ]; then
  bash scripts/test-web.sh
fi
