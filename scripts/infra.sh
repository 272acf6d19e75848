#!/usr/bin/env bash
# Readies local infrastructure on a Debian machine, idempotently:
# installs ClickHouse when absent, starts PostgreSQL, RabbitMQ (with the management plugin)
# and ClickHouse when they are not running, waits until each answers, and creates the
# `pingtower` role and database. Safe to run any number of times.
set -euo pipefail

RUN_DIR="${PINGTOWER_RUN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/run}"
mkdir -p "$RUN_DIR"

log() { printf '[infra] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "$name did not become ready in ${secs}s"; return 1
}

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null; then
  log "installing PostgreSQL"; apt_install postgresql
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
wait_for PostgreSQL 60 pg_isready -h 127.0.0.1 -p 5432 -q
psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "select 1 from pg_roles where rolname='pingtower'")" != 1 ]; then
  log "creating role pingtower"; psql_admin -c "create role pingtower login"
fi
if [ "$(psql_admin -c "select 1 from pg_database where datname='pingtower'")" != 1 ]; then
  log "creating database pingtower"; psql_admin -c "create database pingtower owner pingtower"
fi

# --- RabbitMQ -----------------------------------------------------------------------------
if ! command -v rabbitmq-server >/dev/null; then
  log "installing RabbitMQ"; apt_install rabbitmq-server
fi
if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached || true
  wait_for RabbitMQ 90 as_root rabbitmqctl -q status
fi
if ! as_root rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_management; then
  log "enabling the RabbitMQ management plugin"
  as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
fi
wait_for "RabbitMQ AMQP" 90 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
wait_for "RabbitMQ management API" 90 curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview

# --- ClickHouse ---------------------------------------------------------------------------
if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
  log "installing ClickHouse"; apt_install clickhouse-server clickhouse-client
fi
if ! curl -fsS http://127.0.0.1:8123/ping >/dev/null 2>&1; then
  log "starting ClickHouse"
  for d in /var/lib/clickhouse /var/log/clickhouse-server; do
    as_root mkdir -p "$d"
    if id clickhouse >/dev/null 2>&1; then as_root chown -R clickhouse:clickhouse "$d"; fi
  done
  if id clickhouse >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # The server drops to its own user: its pid file must live where that user may write.
    mkdir -p /var/run/clickhouse-server && chown clickhouse:clickhouse /var/run/clickhouse-server
    su -s /bin/sh clickhouse -c "clickhouse-server --daemon --config-file=/etc/clickhouse-server/config.xml --pid-file=/var/run/clickhouse-server/clickhouse-server.pid" || true
  else
    as_root clickhouse-server --daemon --config-file=/etc/clickhouse-server/config.xml --pid-file="$RUN_DIR/clickhouse-server.pid" || true
  fi
fi
wait_for ClickHouse 90 curl -fsS http://127.0.0.1:8123/ping

log "PostgreSQL, RabbitMQ and ClickHouse are ready"
